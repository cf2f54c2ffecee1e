/// The request dialect of a serving container.
public enum GenerationDialect: Sendable, Hashable {
    /// Hugging Face TGI: `stop`, and `"stream": true` (required for server-sent events on `/invocations`).
    case tgi
    /// DJL LMI of the given version (e.g. `"0.25.0"`): `stop_sequences`, no `stream` key unless `stream`
    /// (LMI ≥ 0.27, which then answers in JSON Lines).
    case lmi(version: String, stream: Bool = false)

    var displayName: String {
        switch self {
        case .tgi: "TGI"
        case .lmi(let v, _): "LMI \(v)"
        }
    }

    var stopKey: String {
        switch self {
        case .tgi: "stop"
        case .lmi: "stop_sequences"
        }
    }

    var sendsStreamFlag: Bool {
        switch self {
        case .tgi: true
        case .lmi(_, let stream): stream
        }
    }

    /// The parser format for this dialect's streamed answer.
    public var streamFormat: StreamFormat {
        switch self {
        case .tgi: .tgi
        case .lmi(_, let stream): stream ? .jsonlines : .lmi
        }
    }

    /// LMI reads the `stream` request field from 0.27.
    static func lmiReadsStream(_ version: String) -> Bool {
        let parts = version.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
        let major = parts.first ?? 0
        let minor = parts.count > 1 ? parts[1] : 0
        return major > 0 || minor >= 27
    }
}
