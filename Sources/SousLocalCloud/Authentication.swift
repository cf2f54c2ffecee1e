import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SousAWS
import SousCrypto

/// SigV4 authentication: one router middleware in front of every route of every service (``LocalCloudResponder``),
/// `/_sous/status` included. A request is refused before its body is read whenever the headers allow it:
///
/// - S3 sends the payload's hash in `x-amz-content-sha256` (or `UNSIGNED-PAYLOAD`, or `STREAMING-…` for
///   aws-chunked bodies), so the whole signature is checked from the headers; the body is then checked against the
///   signed hash as it streams, by ``RequestPayload``.
/// - SageMaker's and STS's clients sign the body's hash without sending it. Everything that does not depend on the
///   body (the header's form, the access key, the credential's region and date) is checked first; then at most the
///   service's limit (``ServiceProtocol/bodyLimit``) is read and the signature checked over it before any
///   handler runs. A client that does send `x-amz-content-sha256` gets the S3 treatment.
struct SigV4Authentication: RouterMiddleware {
    typealias Context = LocalCloudContext
    let credentials: LocalCloudCredentials
    let region: String
    let log: @Sendable (String) -> Void
    private let verifier = SigV4Verifier()

    init(credentials: LocalCloudCredentials, region: String, log: @escaping @Sendable (String) -> Void) {
        self.credentials = credentials
        self.region = region
        self.log = log
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var request = request
        context.payload = try await authenticate(context.wire, context.service, body: request.body, channel: context.channel)
        request.body = RequestBody(buffer: ByteBuffer())  // handlers read the body through context.payload only
        return try await next(request, context)
    }

    /// Verifies the request and returns its body with the checks that remain for it.
    func authenticate(_ wire: WireRequest, _ service: ServiceProtocol, body: RequestBody, channel: (any Channel)?) async throws
        -> RequestPayload
    {
        if let scope = wire.credentialScope, scope.region != region {
            // As AWS: a credential scoped to another (or no) region is refused.
            log("refused \(wire.method) \(wire.rawPath): credential scoped to region '\(scope.region)'")
            if service == .s3 {
                throw ServiceError(
                    .badRequest, "AuthorizationHeaderMalformed",
                    "The authorization header is malformed; the region '\(scope.region)' is wrong; expecting '\(region)'",
                    s3Extra: [("Region", region)])
            }
            throw ServiceError(
                .forbidden, "InvalidSignatureException",
                "Credential should be scoped to a valid region (got '\(scope.region)', this local cloud serves '\(region)').")
        }
        let declared = wire.header("x-amz-content-sha256")
        if declared != nil || service == .s3 {
            // The headers hold everything the signature covers (S3 requires the header unless presigned).
            if declared == nil && wire.header("authorization") != nil {
                throw ServiceError(.badRequest, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
            }
            try check(verify(wire, bodySHA256: nil), wire, service)
            return try RequestPayload(body: body, integrity: integrity(declared, wire), wire: wire, channel: channel)
        }
        // The signature covers a hash the headers do not carry: refuse what the headers alone show is wrong, then
        // read at most the service's limit and check the signature over it.
        let early = verify(wire, bodySHA256: SigV4Request.emptyPayloadHash)
        if let code = early.code, code != "SignatureDoesNotMatch" { try check(early, wire, service) }
        let bytes = try await RequestPayload(body: body, integrity: .unsigned, wire: wire, channel: channel).collect(limit: service.bodyLimit)
        try check(verify(wire, bodySHA256: Digest.sha256(bytes).hexString), wire, service)
        return RequestPayload(collected: bytes)
    }

    /// What the signature says about the body, from `x-amz-content-sha256` (nil: a presigned URL): for a signed
    /// aws-chunked body, the keys that check its chunks, chained from the request's signature.
    private func integrity(_ declared: String?, _ wire: WireRequest) throws -> RequestPayload.Integrity {
        switch declared {
        case nil, "UNSIGNED-PAYLOAD":
            return .unsigned
        case "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
            return .chunked(nil)
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER":
            guard let scope = wire.credentialScope, let amzDate = wire.header("x-amz-date"),
                let auth = wire.header("authorization"), let r = auth.range(of: "Signature=")
            else { throw ServiceError(.badRequest, "IncompleteSignature", "A signed aws-chunked upload needs an Authorization header and X-Amz-Date.") }
            let key = SigV4Signer.signingKey(
                secret: credentials.secretAccessKey, day: scope.day, region: scope.region, service: scope.service)
            return .chunked(
                AWSChunkedDecoder.Signing(
                    signingKey: key, amzDate: amzDate, scope: "\(scope.day)/\(scope.region)/\(scope.service)/aws4_request",
                    previous: String(auth[r.upperBound...].prefix { $0 != "," && $0 != " " })))
        case let d? where d.utf8.count == 64 && d.allSatisfy(\.isHexDigit):
            return .sha256(d.lowercased())
        case let d?:
            if d.hasPrefix("STREAMING-") {
                throw ServiceError(.notImplemented, "NotImplemented", "The sous local cloud does not accept \(d) uploads (SigV4a is not supported).")
            }
            throw ServiceError(
                .badRequest, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a valid sha256 value (got '\(d)').")
        }
    }

    private func verify(_ wire: WireRequest, bodySHA256: String?) -> SigV4Verifier.Outcome {
        let creds = credentials
        return verifier.verify(
            method: wire.method, path: wire.rawPath, rawQuery: wire.rawQuery, headers: wire.headers, bodySHA256: bodySHA256
        ) { akid in
            akid == creds.accessKeyId ? SigV4Verifier.KeySecret(secretAccessKey: creds.secretAccessKey) : nil
        }
    }

    /// Throws the service's error for a refused request.
    private func check(_ outcome: SigV4Verifier.Outcome, _ wire: WireRequest, _ service: ServiceProtocol) throws {
        guard case .invalid(let code, let message) = outcome else { return }
        let status: HTTPResponse.Status =
            switch code {
            case "IncompleteSignature", "XAmzContentSHA256Mismatch", "InvalidToken": .badRequest
            default: .forbidden
            }
        let c = service == .s3 && code == "MissingAuthenticationToken" ? "AccessDenied" : code
        log("refused \(wire.method) \(wire.rawPath) (\(service)): \(c)")
        throw ServiceError(status, c, message)
    }
}
