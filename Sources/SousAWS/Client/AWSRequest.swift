import Foundation
public import SousHTTP

/// One AWS API call before signing.
public struct AWSRequest: Sendable {
    public var service: AWSService
    /// Operation name for errors ("PutObject").
    public var operation: String
    public var method: String
    /// Wire path (already percent-encoded where needed), starting with `/`.
    public var path: String
    /// Decoded query pairs.
    public var query: [(name: String, value: String)]
    public var headers: HTTPHeaders
    public var body: HTTPRequestBody
    /// Use `UNSIGNED-PAYLOAD` instead of hashing the body (honoured for S3 over HTTPS only).
    public var unsignedPayload: Bool = false
    /// S3 operations that can fail inside a 200 response (CompleteMultipartUpload, CopyObject).
    public var mayEmbedError: Bool = false
    /// Host to use instead of the endpoint's host (S3 virtual-hosted style).
    public var hostOverride: String?

    public init(
        service: AWSService, operation: String, method: String, path: String = "/",
        query: [(name: String, value: String)] = [], headers: HTTPHeaders = [:], body: HTTPRequestBody = .empty
    ) {
        self.service = service
        self.operation = operation
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}
