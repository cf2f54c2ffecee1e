public import Foundation

/// The body of a request.
public enum HTTPRequestBody: Sendable {
    case empty
    case bytes(Data)
    /// A region of a file, streamed by libcurl's read callback: never loaded whole into memory.
    case file(path: String, offset: UInt64, length: UInt64)

    /// Length in bytes.
    public var length: UInt64 {
        switch self {
        case .empty: 0
        case .bytes(let d): UInt64(d.count)
        case .file(_, _, let length): length
        }
    }
}

/// Connection and transfer time limits.
public struct HTTPTimeouts: Sendable {
    public var connect: Duration = .seconds(10)
    /// Abort when fewer than `lowSpeedBytes` per second arrive for `lowSpeedTime`.
    public var lowSpeedBytes: Int = 1
    public var lowSpeedTime: Duration = .seconds(60)
    /// Whole-transfer limit; nil = none.
    public var total: Duration? = nil
    public init() {}
}

/// One HTTP request.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: HTTPHeaders
    public var body: HTTPRequestBody
    /// Follow 3xx (at most `maxRedirects`). When following, an `Authorization` header is NOT sent to a host
    /// other than the original one. Default false: the caller sees the 3xx response itself.
    public var followRedirects: Bool = false
    public var maxRedirects: Int = 10
    public var timeouts: HTTPTimeouts = .init()
    /// The most bytes `HTTPClient.send` reads into memory (64 MiB by default); a larger response fails with
    /// `HTTPError.Kind.bodyTooLarge` instead. Streams (`HTTPClient.stream`, `download`) are not capped: their
    /// consumers bound their own memory.
    public var responseBodyLimit: Int = 64 << 20

    public init(method: String = "GET", url: URL, headers: HTTPHeaders = [:], body: HTTPRequestBody = .empty) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}
