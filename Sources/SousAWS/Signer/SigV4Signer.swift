public import Foundation
import SousCrypto

/// The parts of an HTTP request that SigV4 signs.
public struct SigV4Request: Sendable {
    public var method: String
    /// The path exactly as sent on the wire. For S3 each key segment is already URI-encoded once
    /// (`S3Client` does that); other services send plain paths such as `/` or `/endpoints/x/invocations`.
    public var path: String
    /// Decoded query parameters in request order (the signer encodes and sorts them).
    public var query: [(name: String, value: String)]
    /// Headers in request order; names are case-insensitive. Must include `host`.
    public var headers: [(name: String, value: String)]
    /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    public var payloadHash: String

    public init(
        method: String, path: String, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)], payloadHash: String
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.payloadHash = payloadHash
    }

    /// `x-amz-content-sha256` value for S3 requests whose body is not hashed (HTTPS only).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// Hex SHA-256 of the empty string.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The first value of a header (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    mutating func setHeader(_ name: String, _ value: String) {
        let lower = name.lowercased()
        headers.removeAll { $0.name.lowercased() == lower }
        headers.append((name, value))
    }
}

/// The result of signing: intermediate strings (for tests and debugging) and the headers to send.
public struct SigV4Signature: Sendable {
    public var canonicalRequest: String
    public var stringToSign: String
    /// Hex signature.
    public var signature: String
    /// `;`-joined lower-case signed header names.
    public var signedHeaders: String
    /// The `Authorization` header value (header signing) — empty for presigned URLs.
    public var authorization: String
    /// The request with `X-Amz-Date`, `X-Amz-Security-Token`, `X-Amz-Content-Sha256` (when enabled) and
    /// `Authorization` set (header signing), or with the presign query parameters appended (query signing).
    public var request: SigV4Request
}

/// AWS Signature Version 4 signer: a pure value; the time is passed to every call.
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    /// Signing name (`s3`, `sagemaker`, `sts`, `iam`, …).
    public var service: String
    /// Remove `.`/`..` segments and duplicate slashes from the path (every service except S3).
    public var normalizePath: Bool
    /// URI-encode the wire path again for the canonical URI (every service except S3).
    public var encodePath: Bool
    /// Add and sign `x-amz-content-sha256` holding the payload hash (S3 requires it).
    public var signPayloadHeader: Bool
    /// Sign the session token (true, normal) or add it after signing (false, a few old services).
    public var signSessionToken: Bool = true

    /// A signer with the rules of `service` (S3: no normalisation, single encoding, signed payload header).
    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
        let isS3 = service == "s3" || service == "s3-object-lambda"
        normalizePath = !isS3
        encodePath = !isS3
        signPayloadHeader = isS3
    }

    /// Headers never signed (botocore's deny-list).
    static func isUnsignable(_ lowerName: String) -> Bool {
        switch lowerName {
        case "authorization", "user-agent", "expect", "connection", "transfer-encoding", "te", "trailer",
            "upgrade", "keep-alive", "x-amzn-trace-id":
            return true
        default:
            return lowerName.hasPrefix("proxy-")
        }
    }

    /// Signs with an `Authorization` header.
    public func sign(_ request: SigV4Request, date: Date) -> SigV4Signature {
        let stamp = SigV4Time(date)
        var req = request
        req.setHeader("X-Amz-Date", stamp.amzDate)
        if signPayloadHeader { req.setHeader("X-Amz-Content-Sha256", request.payloadHash) }
        if signSessionToken, let token = credentials.sessionToken { req.setHeader("X-Amz-Security-Token", token) }
        let signedNames = Self.signedHeaderNames(req.headers)
        let creq = Self.canonicalRequest(
            req, signedNames: signedNames, normalizePath: normalizePath, encodePath: encodePath)
        let scope = "\(stamp.day)/\(region)/\(service)/aws4_request"
        let sts = Self.stringToSign(amzDate: stamp.amzDate, scope: scope, canonicalRequest: creq)
        let sig = Self.signature(
            secret: credentials.secretAccessKey, day: stamp.day, region: region, service: service, stringToSign: sts)
        let signed = signedNames.joined(separator: ";")
        let authz =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(scope), SignedHeaders=\(signed), Signature=\(sig)"
        if !signSessionToken, let token = credentials.sessionToken { req.setHeader("X-Amz-Security-Token", token) }
        req.setHeader("Authorization", authz)
        return SigV4Signature(
            canonicalRequest: creq, stringToSign: sts, signature: sig, signedHeaders: signed, authorization: authz,
            request: req)
    }

    /// Presigns: the signature goes into the query (`X-Amz-Signature`); `expires` seconds (1…604800).
    /// For S3 pass `payloadHash: SigV4Request.unsignedPayload`.
    public func presign(_ request: SigV4Request, date: Date, expires: Int) -> SigV4Signature {
        let stamp = SigV4Time(date)
        var req = request
        let scope = "\(stamp.day)/\(region)/\(service)/aws4_request"
        let signedNames = Self.signedHeaderNames(req.headers)
        let signed = signedNames.joined(separator: ";")
        req.query.append(("X-Amz-Algorithm", "AWS4-HMAC-SHA256"))
        req.query.append(("X-Amz-Credential", "\(credentials.accessKeyId)/\(scope)"))
        req.query.append(("X-Amz-Date", stamp.amzDate))
        req.query.append(("X-Amz-Expires", String(min(max(expires, 1), 604_800))))
        if signSessionToken, let token = credentials.sessionToken { req.query.append(("X-Amz-Security-Token", token)) }
        req.query.append(("X-Amz-SignedHeaders", signed))
        let creq = Self.canonicalRequest(
            req, signedNames: signedNames, normalizePath: normalizePath, encodePath: encodePath)
        let sts = Self.stringToSign(amzDate: stamp.amzDate, scope: scope, canonicalRequest: creq)
        let sig = Self.signature(
            secret: credentials.secretAccessKey, day: stamp.day, region: region, service: service, stringToSign: sts)
        if !signSessionToken, let token = credentials.sessionToken { req.query.append(("X-Amz-Security-Token", token)) }
        req.query.append(("X-Amz-Signature", sig))
        return SigV4Signature(
            canonicalRequest: creq, stringToSign: sts, signature: sig, signedHeaders: signed, authorization: "",
            request: req)
    }

    // MARK: building blocks (also used by the verifier)

    static func signedHeaderNames(_ headers: [(name: String, value: String)]) -> [String] {
        var set = Set<String>()
        for h in headers {
            let lower = h.name.lowercased()
            if !isUnsignable(lower) { set.insert(lower) }
        }
        return set.sorted()
    }

    /// The canonical request over the headers named in `signedNames` (lower-case, sorted).
    public static func canonicalRequest(
        _ req: SigV4Request, signedNames: [String], normalizePath: Bool, encodePath: Bool
    ) -> String {
        var lines: [String] = [req.method.uppercased()]
        lines.append(canonicalURI(req.path, normalize: normalizePath, encode: encodePath))
        lines.append(canonicalQuery(req.query))
        for name in signedNames {
            let values = req.headers.filter { $0.name.lowercased() == name }.map { canonicalHeaderValue($0.value) }
            lines.append("\(name):\(values.joined(separator: ","))")
        }
        lines.append("")
        lines.append(signedNames.joined(separator: ";"))
        lines.append(req.payloadHash)
        return lines.joined(separator: "\n")
    }

    static func canonicalHeaderValue(_ value: String) -> String {
        var out = ""
        var pendingSpace = false
        for ch in value.unicodeScalars {
            if ch == " " || ch == "\t" || ch == "\n" || ch == "\r" {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Canonical URI of a wire path.
    public static func canonicalURI(_ path: String, normalize: Bool, encode: Bool) -> String {
        var p = path.isEmpty ? "/" : path
        if normalize {
            var stack: [Substring] = []
            for seg in p.split(separator: "/", omittingEmptySubsequences: true) {
                if seg == "." { continue }
                if seg == ".." {
                    _ = stack.popLast()
                    continue
                }
                stack.append(seg)
            }
            let trailing = p.hasSuffix("/") || p.hasSuffix("/.") || p.hasSuffix("/..")
            p = "/" + stack.joined(separator: "/")
            if trailing && !stack.isEmpty { p += "/" }
        }
        return encode ? AWSURIEncoding.encode(p, keepSlash: true) : p
    }

    /// Canonical query string: RFC 3986 encoding, sorted by encoded name then value, `k=` for empty values.
    public static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        var pairs: [(String, String)] = []
        for q in query {
            pairs.append((AWSURIEncoding.encode(q.name, keepSlash: false), AWSURIEncoding.encode(q.value, keepSlash: false)))
        }
        pairs.sort { (a: (String, String), b: (String, String)) -> Bool in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        var parts: [String] = []
        for p in pairs { parts.append(p.0 + "=" + p.1) }
        return parts.joined(separator: "&")
    }

    static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Digest.sha256(Data(canonicalRequest.utf8)).hexString)"
    }

    static func signature(secret: String, day: String, region: String, service: String, stringToSign: String)
        -> String
    {
        let key = signingKey(secret: secret, day: day, region: region, service: service)
        return Digest.hmacSHA256(key: key, data: Data(stringToSign.utf8)).hexString
    }

    /// SigV4's signing key of a secret for a day (`20150830`), region and service: the HMAC chain
    /// `AWS4<secret>` → day → region → service → `aws4_request`. Also what signs `aws-chunked` chunks.
    public static func signingKey(secret: String, day: String, region: String, service: String) -> [UInt8] {
        var key = Digest.hmacSHA256(key: Data("AWS4\(secret)".utf8), data: Data(day.utf8))
        for part in [region, service, "aws4_request"] { key = Digest.hmacSHA256(key: key, data: Data(part.utf8)) }
        return key
    }
}

/// `20150830T123600Z` / `20150830` from a date (UTC).
struct SigV4Time {
    let amzDate: String
    let day: String

    init(_ date: Date) {
        var t = time_t(floor(date.timeIntervalSince1970))
        var tm = tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        day = pad(tm.tm_year + 1900, 4) + pad(tm.tm_mon + 1, 2) + pad(tm.tm_mday, 2)
        amzDate = day + "T" + pad(tm.tm_hour, 2) + pad(tm.tm_min, 2) + pad(tm.tm_sec, 2) + "Z"
    }

    /// Parses `20150830T123600Z`.
    static func parse(_ s: String) -> Date? {
        let b = Array(s.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        func num(_ r: Range<Int>) -> Int32? { Int32(String(decoding: b[r], as: UTF8.self)) }
        guard let y = num(0..<4), let mo = num(4..<6), let d = num(6..<8), let h = num(9..<11),
            let mi = num(11..<13), let se = num(13..<15)
        else { return nil }
        var tm = tm()
        tm.tm_year = y - 1900
        tm.tm_mon = mo - 1
        tm.tm_mday = d
        tm.tm_hour = h
        tm.tm_min = mi
        tm.tm_sec = se
        let t = timegm(&tm)
        return Date(timeIntervalSince1970: TimeInterval(t))
    }
}
