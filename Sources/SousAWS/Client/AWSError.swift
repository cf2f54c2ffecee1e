public import Foundation

/// An error answered by an AWS service (or a local emulation of one).
///
/// Parsed from JSON (`__type` / `x-amzn-ErrorType`), XML (`<Error><Code>`, `<ErrorResponse>`) and S3's
/// HTTP-200-with-`<Error>` bodies. `description` is one sentence plus a hint for common codes; it never holds
/// credentials (only the service's own `Message` text is kept, not S3's echoed string-to-sign).
public struct AWSError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Service name for messages ("S3", "SageMaker", "STS", …).
    public var service: String
    /// API operation ("PutObject", "CreateEndpoint", …).
    public var operation: String
    /// HTTP status (200 for S3 errors embedded in a 200 response).
    public var status: Int
    /// AWS error code ("ValidationException", "NoSuchKey", …).
    public var code: String
    /// The service's message (may be empty).
    public var message: String
    public var requestId: String?
    /// Extra detail some errors carry (S3 `x-amz-bucket-region` of a redirect, `Region` of AuthorizationHeaderMalformed).
    public var bucketRegion: String?

    public init(
        service: String, operation: String, status: Int, code: String, message: String, requestId: String? = nil,
        bucketRegion: String? = nil
    ) {
        self.service = service
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.requestId = requestId
        self.bucketRegion = bucketRegion
    }

    /// Throttling codes (botocore standard retry).
    public static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
        "EC2ThrottledException",
    ]
    /// Transient codes retried regardless of status.
    public static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
    ]

    public var isThrottling: Bool { Self.throttlingCodes.contains(code) }
    /// Whether the standard retry mode retries this error.
    public var isRetryable: Bool {
        isThrottling || Self.transientCodes.contains(code) || [500, 502, 503, 504].contains(status)
    }

    /// Whether the error says the resource addressed does not exist: HTTP 404 (S3's `NoSuchKey`, `NoSuchBucket`,
    /// `NoSuchUpload`, and a HEAD request's bare `NotFound`), `ResourceNotFound`, or a `ValidationException`
    /// saying "Could not find …" or "… does not exist" (how SageMaker answers for a missing model, endpoint
    /// config or endpoint). The one test of "missing" for every caller, so S3 and SageMaker agree on it.
    public var isNotFound: Bool {
        if status == 404 { return true }
        switch code {
        case "NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NotFound", "ResourceNotFound": return true
        case "ValidationException": return message.contains("Could not find") || message.contains("does not exist")
        default: return false
        }
    }

    /// The result of `body`, or nil when it throws an ``AWSError`` that ``isNotFound``: a describe or delete
    /// of something that may already be gone.
    /// - Throws: any other error of `body`.
    public static func nilIfNotFound<T: Sendable>(_ body: () async throws -> T) async throws -> T? {
        do {
            return try await body()
        } catch let e as AWSError where e.isNotFound {
            return nil
        }
    }

    /// A hint for common codes, or nil.
    public var hint: String? {
        switch code {
        case "ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired":
            return "your temporary AWS credentials have expired; refresh them (e.g. `aws sso login`, or export a new AWS_SESSION_TOKEN) and run again"
        case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden":
            return "the identity in use is not allowed to call \(service) \(operation); grant that action in its IAM policy or use another profile/role"
        case "ResourceLimitExceeded", "ServiceQuotaExceededException":
            return "an account quota was hit (for endpoints usually the per-instance-type limit); request an increase in Service Quotas, pick another instance type, or delete unused endpoints"
        case "NoSuchBucket":
            return "the bucket does not exist (or is in another account); create it or fix the bucket name"
        case "SignatureDoesNotMatch":
            return "the secret access key does not match the access key id (or the request was altered on the way); check AWS_SECRET_ACCESS_KEY or the profile's aws_secret_access_key"
        case "InvalidClientTokenId", "InvalidAccessKeyId", "UnrecognizedClientException":
            return "AWS does not know this access key id (deleted key, wrong partition, or temporary keys used without their AWS_SESSION_TOKEN); check the credentials in use"
        case "RequestTimeTooSkewed":
            return "this machine's clock is off by more than 15 minutes; synchronise it (NTP)"
        case "InvalidSignatureException" where message.lowercased().contains("date"):
            return "this machine's clock is off by more than 15 minutes; synchronise it (NTP)"
        case "AuthorizationHeaderMalformed", "PermanentRedirect":
            return "the bucket is in another region\(bucketRegion.map { " (\($0))" } ?? ""); set AWS_REGION to the bucket's region"
        case "NoSuchKey":
            return "the object does not exist; check the key"
        case "NotFound" where service == "S3":
            return "the object does not exist; check the key"
        default:
            if isThrottling { return "the service is throttling requests; retry later or lower the request rate" }
            return nil
        }
    }

    public var description: String {
        var s = "\(service) \(operation) failed with \(code) (HTTP \(status))"
        let msg = message.trimmingCharacters(in: .whitespacesAndNewlines)
        s += msg.isEmpty ? "." : ": " + (msg.hasSuffix(".") ? msg : msg + ".")
        if let hint { s += " Hint: \(hint)." }
        if let requestId, !requestId.isEmpty { s += " (request id \(requestId))" }
        return s
    }

    /// Parses an error response. `header` looks up a response header case-insensitively.
    public static func parse(
        service: String, operation: String, status: Int, header: (String) -> String?, body: Data
    ) -> AWSError {
        var code: String?
        var message = ""
        var requestId = header("x-amzn-RequestId") ?? header("x-amz-request-id")
        let trimmed = body.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if trimmed.first == UInt8(ascii: "{"),
            let obj = try? JSONSerialization.jsonObject(with: Data(trimmed)) as? [String: Any]
        {
            code = (obj["__type"] as? String) ?? (obj["code"] as? String) ?? (obj["Code"] as? String)
            message = (obj["message"] as? String) ?? (obj["Message"] as? String) ?? (obj["errorMessage"] as? String) ?? ""
        } else if trimmed.first == UInt8(ascii: "<"), let root = XMLNode.parse(Data(trimmed)) {
            let err = root.find("Error") ?? root
            code = err.value("Code")
            message = err.value("Message") ?? ""
            requestId = requestId ?? root.find("RequestId")?.text
        }
        if let t = header("x-amzn-ErrorType"), !t.isEmpty, code == nil || code!.isEmpty {
            code = String(t.split(separator: ":").first ?? Substring(t))
        }
        if var c = code {
            if let hash = c.lastIndex(of: "#") { c = String(c[c.index(after: hash)...]) }
            if let colon = c.firstIndex(of: ":") { c = String(c[..<colon]) }
            code = c
        }
        let finalCode: String
        if let c = code, !c.isEmpty {
            finalCode = c
        } else {
            switch status {
            case 301: finalCode = "PermanentRedirect"
            case 304: finalCode = "NotModified"
            case 400: finalCode = "BadRequest"
            case 403: finalCode = "AccessDenied"
            case 404: finalCode = "NotFound"
            case 412: finalCode = "PreconditionFailed"
            case 429: finalCode = "TooManyRequestsException"
            default: finalCode = "HTTP\(status)"
            }
        }
        return AWSError(
            service: service, operation: operation, status: status, code: finalCode,
            message: String(message.prefix(2000)), requestId: requestId, bucketRegion: header("x-amz-bucket-region"))
    }

    /// For S3 operations that can fail inside a 200 response (CompleteMultipartUpload, CopyObject): the error, if
    /// the body's root element is `<Error>`.
    public static func embeddedS3Error(operation: String, header: (String) -> String?, body: Data) -> AWSError? {
        guard let root = XMLNode.parse(body), root.name == "Error" else { return nil }
        return parse(service: "S3", operation: operation, status: 200, header: header, body: body)
    }
}
