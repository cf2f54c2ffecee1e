import Foundation
import SousBasics
import HTTPTypes
import Hummingbird
import NIOCore
import SousAWS

/// The parts of an incoming request the services read: method, raw (still percent-encoded) path and query
/// as the signature covers them, decoded query pairs and every header (with `host`).
struct WireRequest: Sendable {
    let method: String
    let rawPath: String
    let rawQuery: String
    let query: [(name: String, value: String)]
    let headers: [(name: String, value: String)]

    /// No request (the context's value before the responder fills it in).
    static let empty = WireRequest()

    private init() {
        method = ""
        rawPath = "/"
        rawQuery = ""
        query = []
        headers = []
    }

    init(_ request: Request) {
        method = request.method.rawValue
        let target = request.head.path ?? "/"
        if let q = target.firstIndex(of: "?") {
            rawPath = String(target[..<q])
            rawQuery = String(target[target.index(after: q)...])
        } else {
            rawPath = target
            rawQuery = ""
        }
        query = AWSURIEncoding.parseQuery(rawQuery)
        var h: [(name: String, value: String)] = []
        if let authority = request.head.authority { h.append(("host", authority)) }
        for f in request.headers { h.append((f.name.canonicalName, f.value)) }
        headers = h
    }

    func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.name.lowercased() == n }?.value
    }

    func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }
    func hasQuery(_ name: String) -> Bool { query.contains { $0.name == name } }

    /// The credential scope named in the Authorization header or presigned query (`AKID/day/region/service/aws4_request`):
    /// unverified, it only chooses the service whose routes answer; the SigV4 middleware then verifies it.
    var credentialScope: (accessKeyId: String, day: String, region: String, service: String)? {
        let credential: Substring?
        if let auth = header("authorization"), let r = auth.range(of: "Credential=") {
            credential = auth[r.upperBound...].prefix { $0 != "," }
        } else if let c = queryValue("X-Amz-Credential") {
            credential = Substring(c)
        } else {
            credential = nil
        }
        guard let parts = credential?.split(separator: "/", omittingEmptySubsequences: false), parts.count == 5 else { return nil }
        return (String(parts[0]), String(parts[1]), String(parts[2]), String(parts[3]))
    }
}

/// Builds responses.
enum Reply {
    static func requestId() -> String { UUID().uuidString }

    static func bytes(
        _ status: HTTPResponse.Status, _ body: some Collection<UInt8>, contentType: String?,
        headers extra: [(String, String)] = []
    ) -> Response {
        var headers = HTTPFields()
        if let contentType { headers[.contentType] = contentType }
        headers[HTTPField.Name("x-amzn-RequestId")!] = requestId()
        for (n, v) in extra { if let name = HTTPField.Name(n) { headers[name] = v } }
        var buf = ByteBuffer()
        buf.writeBytes(body)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buf))
    }

    static func xml(_ status: HTTPResponse.Status = .ok, _ text: String, headers: [(String, String)] = []) -> Response {
        bytes(status, Array(text.utf8), contentType: "application/xml", headers: headers)
    }

    static func json(_ status: HTTPResponse.Status = .ok, _ object: Any, contentType: String = "application/x-amz-json-1.1") -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return bytes(status, Array(data), contentType: contentType)
    }

    static func empty(_ status: HTTPResponse.Status = .ok, headers extra: [(String, String)] = []) -> Response {
        var headers = HTTPFields()
        headers[HTTPField.Name("x-amzn-RequestId")!] = requestId()
        for (n, v) in extra { if let name = HTTPField.Name(n) { headers[name] = v } }
        return Response(status: status, headers: headers, body: ResponseBody())
    }
}

/// An error answered in the wire format of the service that raised it.
struct ServiceError: Error, CustomStringConvertible {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// Extra XML elements for S3 (`<Key>…</Key>`, `<BucketName>…</BucketName>`).
    var s3Extra: [(String, String)] = []

    var description: String { "\(code): \(message)" }

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, s3Extra: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.s3Extra = s3Extra
    }

    static func validation(_ message: String) -> ServiceError { ServiceError(.badRequest, "ValidationException", message) }

    func s3Response(head: Bool = false) -> Response {
        if head { return Reply.empty(status) }
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(XMLText.escape(code))</Code><Message>\(XMLText.escape(message))</Message>"
        for (k, v) in s3Extra { x += "<\(k)>\(XMLText.escape(v))</\(k)>" }
        x += "<RequestId>\(Reply.requestId())</RequestId><HostId>sous-local</HostId></Error>"
        return Reply.xml(status, x)
    }

    /// JSON 1.1 (SageMaker control plane).
    func jsonResponse() -> Response {
        Reply.bytes(
            status, Array((try? JSONSerialization.data(withJSONObject: ["__type": code, "message": message], options: [.sortedKeys])) ?? Data()),
            contentType: "application/x-amz-json-1.1", headers: [("x-amzn-ErrorType", code)])
    }

    /// rest-json (SageMaker Runtime).
    func restJSONResponse() -> Response {
        Reply.bytes(
            status, Array((try? JSONSerialization.data(withJSONObject: ["message": message], options: [.sortedKeys])) ?? Data()),
            contentType: "application/json", headers: [("x-amzn-ErrorType", code)])
    }

    /// Query protocol (STS).
    func queryResponse() -> Response {
        let x = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>\(XMLText.escape(code))</Code><Message>\(XMLText.escape(message))</Message></Error><RequestId>\(Reply.requestId())</RequestId></ErrorResponse>"
        return Reply.bytes(status, Array(x.utf8), contentType: "text/xml")
    }
}

extension XMLText {
    /// Texts of every `<name>…</name>` element, in order (enough for the small request bodies S3 takes).
    static func elements(_ name: String, in xml: String) -> [String] {
        var out: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(name)>") {
            guard let close = rest[open.upperBound...].range(of: "</\(name)>") else { break }
            out.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return out
    }
}

/// Timestamps in the formats AWS uses.
enum AWSTime {
    static func iso8601(_ d: Date) -> String {
        let f = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return d.formatted(f)
    }

    static func http(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: d)
    }
}
