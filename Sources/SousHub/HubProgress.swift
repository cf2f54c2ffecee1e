/// Download progress, reported at most ~10 times a second and once at the end.
public struct HubProgress: Sendable {
    public var bytesDone: UInt64
    public var bytesTotal: UInt64
    public var bytesPerSecond: Double
    /// Estimated time left; nil until a rate is known.
    public var eta: Duration?
    public var filesDone: Int
    public var filesTotal: Int
}
