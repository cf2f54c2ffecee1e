/// The kind of Hub repository (folder prefix and API path).
public enum HubRepoType: String, Sendable {
    case model, dataset, space

    var apiSegment: String { rawValue + "s" }  // /api/models/…
    var resolvePrefix: String { self == .model ? "" : rawValue + "s/" }  // /datasets/org/x/resolve/…
}
