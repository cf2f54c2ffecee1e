internal import Foundation
public import SousHTTP

/// Signs SageMaker Runtime requests with the AWS core: the client's credential chain and SigV4
/// (signing name `sagemaker`), the same way every other sous AWS call is signed.
public struct AWSClientRequestSigner: RequestSigner {
    public let client: AWSClient

    public init(_ client: AWSClient) { self.client = client }

    public func sign(_ request: HTTPRequest, service: String, region: String) async throws -> HTTPRequest {
        let aws = region == client.region ? client : client.withRegion(region)
        // AWSClient adds the endpoint's own base path: pass the operation path only.
        var path = request.url.path
        var base = aws.endpoint(for: .sagemakerRuntime).path
        if base.hasSuffix("/") { base.removeLast() }
        if !base.isEmpty, path.hasPrefix(base) { path.removeFirst(base.count) }
        var headers = HTTPHeaders()
        for h in request.headers where h.name.lowercased() != "host" { headers.add(h.name, h.value) }
        let operation = path.hasSuffix("invocations-response-stream") ? "InvokeEndpointWithResponseStream" : "InvokeEndpoint"
        let r = AWSRequest(
            service: .sagemakerRuntime, operation: operation, method: request.method, path: path, headers: headers,
            body: request.body)
        var signed = try await aws.signedRequest(r)
        signed.timeouts = request.timeouts
        return signed
    }
}
