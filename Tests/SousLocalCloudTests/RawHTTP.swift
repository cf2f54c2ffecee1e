import Foundation
import SousAWS

/// One blocking HTTP/1.1 connection to 127.0.0.1 for tests that must control what is sent when (a body sent only in
/// part, a request that waits for `100 Continue`). Call it off the cooperative pool (`offPool`).
final class RawHTTPConnection {
    let fd: Int32

    /// A response as read from the socket.
    struct Response: Sendable {
        var status: Int
        var headers: [String: String]
        var body: Data
        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed (errno \(errno))") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else {
            close(fd)
            throw Failure(description: "connect to 127.0.0.1:\(port) failed (errno \(errno))")
        }
    }

    deinit { close(fd) }

    func send(_ bytes: Data) throws {
        try bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                guard n > 0 else { throw Failure(description: "send failed after \(off) bytes (errno \(errno))") }
                off += n
            }
        }
    }

    /// Reads with a deadline: the bytes available, or empty at end of stream.
    private func read(deadline: Date) throws -> Data {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
        guard poll(&pfd, 1, ms) > 0 else { throw Failure(description: "no answer before the deadline") }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        let n = recv(fd, &buffer, buffer.count, 0)
        if n < 0 && errno == ECONNRESET { return Data() }
        guard n >= 0 else { throw Failure(description: "recv failed (errno \(errno))") }
        return Data(buffer[0..<n])
    }

    /// Reads one response (head, then `Content-Length` bytes of body), waiting at most `timeout` seconds.
    func readResponse(timeout: TimeInterval = 120) throws -> Response {
        let deadline = Date().addingTimeInterval(timeout)
        var data = Data()
        let separator = Data("\r\n\r\n".utf8)
        while data.range(of: separator) == nil {
            let more = try read(deadline: deadline)
            guard !more.isEmpty else { throw Failure(description: "the connection closed before a response head: \(data.count) bytes") }
            data += more
        }
        let end = data.range(of: separator)!
        let lines = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        var body = Data(data[end.upperBound...])
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while body.count < length {
            let more = try read(deadline: deadline)
            guard !more.isEmpty else { break }
            body += more
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// True when the server closes the connection (end of stream) before `timeout`.
    func closedByServer(timeout: TimeInterval = 120) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let more = try? read(deadline: deadline) else { return false }
            if more.isEmpty { return true }
        }
        return false
    }

    /// A request head signed with SigV4 (`secret` may be wrong on purpose), for 127.0.0.1:`port`; `path` may hold a query.
    static func signedHead(
        _ method: String, _ path: String, port: Int, accessKeyId: String, secret: String, service: String,
        headers: [(String, String)], payloadHash: String, signPayloadHeader: Bool, date: Date = Date()
    ) -> Data {
        var signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secret), region: "us-east-1", service: service)
        signer.signPayloadHeader = signPayloadHeader
        let parts = path.split(separator: "?", maxSplits: 1).map(String.init)
        let query = parts.count > 1 ? AWSURIEncoding.parseQuery(parts[1]) : []
        let signed = signer.sign(
            SigV4Request(
                method: method, path: parts[0], query: query, headers: [("Host", "127.0.0.1:\(port)")] + headers, payloadHash: payloadHash),
            date: date)
        var head = "\(method) \(path) HTTP/1.1\r\n"
        for h in signed.request.headers { head += "\(h.name): \(h.value)\r\n" }
        return Data((head + "\r\n").utf8)
    }
}
