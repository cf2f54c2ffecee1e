import Foundation
import Synchronization
import SousBasics

/// HTTP/1.1 and HTTP/2 client over libcurl: one multi handle and one thread per client (or per transfer
/// thread, `Configuration.transferThreads`); connections are
/// reused across requests to the same host.
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        /// Connections kept open to one host at most. 16: an `s3.upload` of a folder has two large files'
        /// parts in flight at once (8 each by default); with fewer connections half of them queue and the
        /// bodies reach the server in turns instead of side by side.
        public var maxConnectionsPerHost: Int = 16
        public var userAgent: String = "sous/0.1"
        /// Never turned off by sous itself.
        public var verifyTLS: Bool = true
        /// Threads driving transfers, each with a libcurl multi handle (and connections) of its own; a request
        /// goes to the one with the fewest transfers in flight. More than one lets the body sinks of parallel transfers (`deliver(to:)`, which
        /// run on their transfer's thread) use several cores, as parallel downloads that hash what they write
        /// do. `maxConnectionsPerHost` applies to each.
        public var transferThreads: Int = 1
        public init() {}
    }

    let multis: [CurlMulti]
    private let turn = Atomic<Int>(0)

    public init(configuration: Configuration = .init()) {
        multis = (0..<max(1, configuration.transferThreads)).map { _ in CurlMulti(configuration: configuration) }
    }

    /// A client whose transfers report their body buffers to `probe` (tests of backpressure).
    init(configuration: Configuration = .init(), probe: any TransferProbe) {
        multis = [CurlMulti(configuration: configuration, probe: probe)]
    }

    deinit { for m in multis { m.submit(.shutdown) } }

    /// The transfer thread for the next request: the one with the fewest transfers in flight (the first such
    /// after the previous pick), so long downloads spread over the threads instead of landing on one in turn.
    private var multi: CurlMulti {
        let first = turn.add(1, ordering: .relaxed).oldValue
        var best = multis[first % multis.count]
        for i in 1..<multis.count {
            let m = multis[(first + i) % multis.count]
            if m.transfersInFlight < best.transfersInFlight { best = m }
        }
        return best
    }

    /// A process-wide client (connection reuse across calls).
    public static let shared = HTTPClient()

    /// Sends a request and collects the whole body, at most `request.responseBodyLimit` bytes.
    /// - Throws: `HTTPError` (`.bodyTooLarge` past the limit, naming the status and the limit).
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let response = try await stream(request)
        let limit = request.responseBodyLimit
        func tooLarge() -> HTTPError {
            response.body.cancel()
            return HTTPError(
                kind: .bodyTooLarge,
                message: "the HTTP \(response.head.status) response is larger than the \(limit) bytes read into memory at most",
                url: HTTPError.redacted(response.head.url), isTransient: false)
        }
        var body = Data()
        for try await chunk in response.body {
            if chunk.count > limit - body.count { throw tooLarge() }
            body.append(chunk)
        }
        return HTTPResponse(head: response.head, body: body)
    }

    /// Sends a request and returns as soon as the response head arrives; the body streams.
    /// With `followRedirects`, 301/302/303/307/308 are followed here (not by libcurl): 303 (and 301/302 after
    /// a POST) turn into a GET without body; `Authorization`, `Cookie` and `Host` are dropped whenever the
    /// target's scheme, host or port differs from the original request's.
    public func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        var current = request
        var hops = 0
        while true {
            if Task.isCancelled {
                throw HTTPError(kind: .cancelled, message: "cancelled", url: HTTPError.redacted(current.url))
            }
            let owner = TransferOwner(try multi.start(current))
            let head = try await owner.transfer.waitForHead()
            let body = HTTPBodyStream(owner: owner)
            guard request.followRedirects, [301, 302, 303, 307, 308].contains(head.status),
                let location = head.headers["Location"],
                let next = URL(string: location, relativeTo: current.url)?.absoluteURL
            else {
                return HTTPStreamingResponse(head: head, body: body)
            }
            guard hops < request.maxRedirects else {
                body.cancel()
                throw HTTPError(
                    kind: .tooManyRedirects, message: "more than \(request.maxRedirects) redirects",
                    url: HTTPError.redacted(request.url))
            }
            hops += 1
            _ = try? await body.collect(upTo: 64 << 10)  // drain a small body so the connection is reused
            current = Self.redirected(original: request, previous: current, to: next, status: head.status)
        }
    }

    /// Streams the body into a file (appending when `append`, else truncating), returning the head and an
    /// empty body; memory stays bounded. Only a 2xx body is written: for any other status the file is not
    /// touched and the returned `HTTPResponse.body` holds the first 64 KiB of the error body.
    public func download(_ request: HTTPRequest, to path: String, append: Bool) async throws -> HTTPResponse {
        let response = try await stream(request)
        guard (200..<300).contains(response.head.status) else {
            let body = try await response.body.collect(upTo: 64 << 10)
            return HTTPResponse(head: response.head, body: body)
        }
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else {
            response.body.cancel()
            throw HTTPError(
                kind: .fileWrite, message: "cannot open \(path): \(String(cString: strerror(errno)))",
                url: HTTPError.redacted(request.url))
        }
        defer { close(fd) }
        struct WriteFailed: Error { var code: Int32 }
        do {
            try await response.body.deliver { bytes in
                if let failed = writeAll(fd, bytes) { throw WriteFailed(code: failed) }
            }
        } catch let e as WriteFailed {
            throw HTTPError(
                kind: .fileWrite, message: "cannot write \(path): \(String(cString: strerror(e.code)))",
                url: HTTPError.redacted(request.url), isTransient: false)
        }
        return HTTPResponse(head: response.head, body: Data())
    }

    static func origin(_ url: URL) -> String {
        let scheme = (url.scheme ?? "").lowercased()
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\((url.host ?? "").lowercased()):\(port)"
    }

    static func redirected(original: HTTPRequest, previous: HTTPRequest, to next: URL, status: Int) -> HTTPRequest {
        var r = previous
        r.url = next
        r.headers = original.headers
        if origin(next) != origin(original.url) {
            r.headers.remove("Authorization")
            r.headers.remove("Cookie")
            r.headers.remove("Host")
        }
        let method = previous.method.uppercased()
        if (status == 303 && method != "HEAD") || ((status == 301 || status == 302) && method == "POST") {
            r.method = "GET"
            r.body = .empty
            r.headers.remove("Content-Type")
            r.headers.remove("Content-Length")
        }
        return r
    }
}
