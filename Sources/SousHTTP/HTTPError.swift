import Foundation

/// A transfer failed below HTTP (DNS, connect, TLS, timeout, reset, cancellation, local file I/O).
/// HTTP statuses (4xx/5xx) are not errors at this level: the caller reads `HTTPResponse.status`.
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case couldNotResolve, couldNotConnect, timedOut, tls, connectionReset, tooManyRedirects, cancelled,
            fileRead, fileWrite,
            /// The URL (or a redirect's target) is not http or https: libcurl speaks nothing else for sous.
            unsupportedProtocol,
            /// A response read whole is larger than the request's `responseBodyLimit`.
            bodyTooLarge,
            other
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
        case .unsupportedProtocol: what = "only http and https URLs are followed"
        case .bodyTooLarge: what = "the response is too large to read into memory"
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
        case .unsupportedProtocol: fix = "use an http:// or https:// URL (a server redirecting elsewhere is refused)"
        case .bodyTooLarge: fix = "the server sent far more than this call expects; check the URL and the server"
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
