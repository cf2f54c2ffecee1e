import Foundation

extension SageMakerRuntimeClient {
    /// A runtime client using `aws`'s region, endpoint (including `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` and
    /// the config file's `services` endpoints), credentials, signer, retry settings and HTTP client.
    public init(aws: AWSClient) {
        self.init(
            region: aws.region, signer: AWSClientRequestSigner(aws), endpointURL: aws.endpoint(for: .sagemakerRuntime),
            http: aws.http)
        retry = aws.retry
    }
}
