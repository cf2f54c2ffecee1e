public import Foundation

/// Ordered, case-insensitive header list.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible,
    CustomReflectable
{
    private var pairs: [(name: String, value: String)]

    public init() { pairs = [] }

    public init(_ pairs: [(String, String)]) {
        self.pairs = pairs.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The first value of `name` (case-insensitive), or nil.
    public subscript(name: String) -> String? {
        pairs.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// All values of `name` (case-insensitive), in insertion order.
    public func values(for name: String) -> [String] {
        pairs.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    /// Appends a header (keeps existing values of the same name).
    public mutating func add(_ name: String, _ value: String) {
        pairs.append((name: name, value: value))
    }

    /// Replaces all values of `name` with `value` (at the position of the first one, or appended).
    public mutating func set(_ name: String, _ value: String) {
        if let index = pairs.firstIndex(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) {
            pairs[index] = (name: name, value: value)
            var i = pairs.count - 1
            while i > index {
                if pairs[i].name.caseInsensitiveCompare(name) == .orderedSame { pairs.remove(at: i) }
                i -= 1
            }
        } else {
            pairs.append((name: name, value: value))
        }
    }

    /// Removes every value of `name`.
    public mutating func remove(_ name: String) {
        pairs.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// True when a header named `name` is present.
    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Number of header lines.
    public var count: Int { pairs.count }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        pairs.makeIterator()
    }

    /// Header names only: values are never printed (they may hold credentials).
    public var description: String { "HTTPHeaders(\(pairs.map(\.name).joined(separator: ", ")))" }

    /// `dump` and debugger views show header names only, never values.
    public var customMirror: Mirror { Mirror(self, children: ["names": pairs.map(\.name)]) }
}

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

    public init(method: String = "GET", url: URL, headers: HTTPHeaders = [:], body: HTTPRequestBody = .empty) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// Status line and headers of a response.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    /// URL after redirects.
    public var url: URL
    /// "1.0", "1.1", "2" or "3".
    public var httpVersion: String

    public init(status: Int, headers: HTTPHeaders, url: URL, httpVersion: String) {
        self.status = status
        self.headers = headers
        self.url = url
        self.httpVersion = httpVersion
    }
}

/// A response with its whole body.
public struct HTTPResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: Data
    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }

    public init(head: HTTPResponseHead, body: Data) {
        self.head = head
        self.body = body
    }
}

/// A response whose body streams.
public struct HTTPStreamingResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: HTTPBodyStream
}

/// A transfer failed below HTTP (DNS, connect, TLS, timeout, reset, cancellation, local file I/O).
/// HTTP statuses (4xx/5xx) are not errors at this level: the caller reads `HTTPResponse.status`.
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case couldNotResolve, couldNotConnect, timedOut, tls, connectionReset, tooManyRedirects, cancelled,
            fileRead, fileWrite, other
    }
    public var kind: Kind
    /// libcurl's error text; never contains headers or credentials.
    public var message: String
    /// scheme://host:port/path (no query string).
    public var url: String
    /// True for errors a retry may fix (connect, reset, timeout, cut response).
    public var isTransient: Bool

    public init(kind: Kind, message: String, url: String, isTransient: Bool? = nil) {
        self.kind = kind
        self.message = message
        self.url = url
        self.isTransient = isTransient ?? [.couldNotConnect, .timedOut, .connectionReset].contains(kind)
    }

    public var description: String {
        let what: String
        switch kind {
        case .couldNotResolve: what = "could not resolve the host name"
        case .couldNotConnect: what = "could not connect"
        case .timedOut: what = "timed out"
        case .tls: what = "TLS failed"
        case .connectionReset: what = "the connection broke"
        case .tooManyRedirects: what = "too many redirects"
        case .cancelled: what = "the request was cancelled"
        case .fileRead: what = "could not read the request body file"
        case .fileWrite: what = "could not write the response to disk"
        case .other: what = "the request failed"
        }
        let fix: String
        switch kind {
        case .couldNotResolve: fix = "check the host name, your network and proxy settings (https_proxy, no_proxy)"
        case .couldNotConnect, .timedOut, .connectionReset:
            fix = "check your network (and https_proxy / no_proxy), then retry"
        case .tls: fix = "check the system CA certificates and the server certificate"
        case .tooManyRedirects: fix = "the server redirects in a loop; check the URL"
        case .cancelled: fix = "nothing to fix"
        case .fileRead: fix = "check the file exists and is readable"
        case .fileWrite: fix = "check free disk space and permissions"
        case .other: fix = "retry, or report the message above"
        }
        return "HTTP request to \(url) failed: \(what) (\(message)); \(fix)."
    }

    /// `scheme://host:port/path` of a URL (query, fragment and user info dropped).
    static func redacted(_ url: URL) -> String {
        guard let c = URLComponents(url: url, resolvingAgainstBaseURL: false), let host = c.host else {
            return "<invalid URL>"
        }
        var s = "\(c.scheme ?? "http")://\(host)"
        if let port = c.port { s += ":\(port)" }
        s += c.percentEncodedPath
        return s
    }
}
