public import Foundation
import SousCrypto

/// Server-side SigV4 verification (for sous's local cloud): recomputes the signature of an incoming request
/// from its `Authorization` header (or presigned query) and the secret of its access key.
public struct SigV4Verifier: Sendable {
    /// The secret (and, for temporary keys, the session token that must accompany it) of an access key.
    public struct KeySecret: Sendable {
        public var secretAccessKey: String
        public var sessionToken: String?
        public init(secretAccessKey: String, sessionToken: String? = nil) {
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }
    }

    /// The verdict. Failure codes are AWS's: `SignatureDoesNotMatch`, `InvalidAccessKeyId`,
    /// `IncompleteSignature`, `MissingAuthenticationToken`, `RequestTimeTooSkewed`, `AccessDenied`
    /// (expired presigned URL), `InvalidToken`, `XAmzContentSHA256Mismatch`.
    public enum Outcome: Sendable, Equatable {
        case valid(accessKeyId: String, region: String, service: String)
        case invalid(code: String, message: String)

        public var isValid: Bool { if case .valid = self { true } else { false } }
        public var code: String? { if case .invalid(let c, _) = self { c } else { nil } }
    }

    /// Allowed clock difference between the request's `X-Amz-Date` and `now` (nil = not checked).
    public var maxClockSkew: TimeInterval? = 15 * 60

    public init(maxClockSkew: TimeInterval? = 15 * 60) { self.maxClockSkew = maxClockSkew }

    /// Verifies one request.
    /// - Parameters:
    ///   - path: the path exactly as received on the request line (still percent-encoded).
    ///   - rawQuery: the query string as received (without `?`).
    ///   - bodySHA256: hex SHA-256 of the body the server received, when it computed one; used for services
    ///     that do not send `x-amz-content-sha256` and to check that header when it holds a real hash.
    ///   - lookup: the secret of an access key id, or nil when unknown.
    public func verify(
        method: String, path: String, rawQuery: String, headers: [(name: String, value: String)],
        bodySHA256: String?, now: Date = Date(), lookup: (String) -> KeySecret?
    ) -> Outcome {
        var query = AWSURIEncoding.parseQuery(rawQuery)
        func header(_ n: String) -> String? { headers.first { $0.name.lowercased() == n }?.value }
        let credential: String
        let signedHeaders: String
        let providedSignature: String
        let amzDate: String
        var presignExpires: Int?
        if let authz = header("authorization") {
            guard authz.hasPrefix("AWS4-HMAC-SHA256 ") else {
                return .invalid(code: "IncompleteSignature", message: "Only AWS4-HMAC-SHA256 signatures are supported.")
            }
            var fields: [String: String] = [:]
            for part in authz.dropFirst("AWS4-HMAC-SHA256 ".count).split(separator: ",") {
                let t = part.trimmingCharacters(in: .whitespaces)
                if let eq = t.firstIndex(of: "=") { fields[String(t[..<eq])] = String(t[t.index(after: eq)...]) }
            }
            guard let c = fields["Credential"], let s = fields["SignedHeaders"], let sig = fields["Signature"],
                let d = header("x-amz-date")
            else {
                return .invalid(
                    code: "IncompleteSignature",
                    message: "The Authorization header lacks Credential, SignedHeaders or Signature, or X-Amz-Date is missing.")
            }
            (credential, signedHeaders, providedSignature, amzDate) = (c, s, sig, d)
        } else if let sig = query.first(where: { $0.name == "X-Amz-Signature" })?.value {
            func q(_ n: String) -> String? { query.first { $0.name == n }?.value }
            guard let c = q("X-Amz-Credential"), let s = q("X-Amz-SignedHeaders"), let d = q("X-Amz-Date") else {
                return .invalid(code: "IncompleteSignature", message: "The presigned URL lacks X-Amz-Credential, X-Amz-SignedHeaders or X-Amz-Date.")
            }
            (credential, signedHeaders, providedSignature, amzDate) = (c, s, sig, d)
            presignExpires = q("X-Amz-Expires").flatMap { Int($0) } ?? 604_800
            query.removeAll { $0.name == "X-Amz-Signature" }
        } else {
            return .invalid(code: "MissingAuthenticationToken", message: "The request is not signed.")
        }
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scope.count == 5, scope[4] == "aws4_request" else {
            return .invalid(code: "IncompleteSignature", message: "The credential scope is malformed.")
        }
        let (akid, day, region, service) = (scope[0], scope[1], scope[2], scope[3])
        guard let secret = lookup(akid) else {
            return .invalid(
                code: service == "s3" ? "InvalidAccessKeyId" : "InvalidClientTokenId",
                message: "The AWS access key id in the request does not exist in our records.")
        }
        guard let date = SigV4Time.parse(amzDate), amzDate.hasPrefix(day) else {
            return .invalid(code: "IncompleteSignature", message: "X-Amz-Date is malformed or does not match the credential scope.")
        }
        if let expires = presignExpires, now.timeIntervalSince(date) > TimeInterval(expires) {
            return .invalid(code: "AccessDenied", message: "Request has expired.")
        }
        if presignExpires == nil, let skew = maxClockSkew, abs(now.timeIntervalSince(date)) > skew {
            return .invalid(
                code: "RequestTimeTooSkewed",
                message: "The difference between the request time and the server's time is too large.")
        }
        if let token = secret.sessionToken {
            let sent = header("x-amz-security-token") ?? query.first { $0.name == "X-Amz-Security-Token" }?.value
            guard sent == token else {
                return .invalid(code: "InvalidToken", message: "The provided token is malformed or otherwise invalid.")
            }
        }
        let isS3 = service == "s3"
        let payloadHash: String
        if let h = header("x-amz-content-sha256") {
            payloadHash = h
            if let body = bodySHA256, h.count == 64, h.lowercased() != body.lowercased() {
                return .invalid(
                    code: "XAmzContentSHA256Mismatch",
                    message: "The provided 'x-amz-content-sha256' header does not match what was computed.")
            }
        } else if presignExpires != nil && isS3 {
            payloadHash = SigV4Request.unsignedPayload
        } else {
            payloadHash = bodySHA256 ?? SigV4Request.emptyPayloadHash
        }
        let names = signedHeaders.split(separator: ";").map { $0.lowercased() }
        guard names.contains("host") else {
            return .invalid(code: "SignatureDoesNotMatch", message: "The host header must be signed.")
        }
        let req = SigV4Request(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash)
        let creq = SigV4Signer.canonicalRequest(req, signedNames: names, normalizePath: !isS3, encodePath: !isS3)
        let sts = SigV4Signer.stringToSign(amzDate: amzDate, scope: scope.dropFirst().joined(separator: "/"), canonicalRequest: creq)
        let expected = SigV4Signer.signature(
            secret: secret.secretAccessKey, day: day, region: region, service: service, stringToSign: sts)
        guard constantTimeEqual(expected, providedSignature) else {
            return .invalid(
                code: "SignatureDoesNotMatch",
                message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
        }
        return .valid(accessKeyId: akid, region: region, service: service)
    }

    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
