public import SousHTTP

/// Signs a request for an AWS service (SigV4). The AWS core's signer conforms through a small adapter;
/// tests against loopback servers may pass any implementation.
public protocol RequestSigner: Sendable {
    /// Returns `request` with its authentication headers added (`Authorization`, `X-Amz-Date`, …).
    /// `request.body` is `.bytes` and already final; `service` is the signing name, e.g. `sagemaker`.
    func sign(_ request: HTTPRequest, service: String, region: String) async throws -> HTTPRequest
}
