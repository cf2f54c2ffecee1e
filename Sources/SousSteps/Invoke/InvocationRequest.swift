public import Foundation
import SousAWS
public import SousStreaming

/// One call to a SageMaker endpoint serving an LLM: what `sagemaker.invoke-stream`, `sous invoke` and
/// `sous chat` send.
public struct InvocationRequest: Sendable {
    /// The endpoint name.
    public var endpoint: String
    /// The request body (JSON), sent as is.
    public var body: Data
    /// The container's output format (`.auto`: from the response's content type and first bytes).
    public var format: StreamFormat
    /// InvokeEndpointWithResponseStream (true) or InvokeEndpoint (false).
    public var stream: Bool
    /// `X-Amzn-SageMaker-Custom-Attributes` (the notebooks send `accept_eula=true`).
    public var customAttributes: String?
    public var targetVariant: String?
    public var inferenceComponent: String?
    public var sessionId: String?
    /// The `max_new_tokens` sent, when known: a generation that reaches it finished for `length`.
    public var maxNewTokens: Int?

    public init(
        endpoint: String, body: Data, format: StreamFormat = .auto, stream: Bool = true,
        customAttributes: String? = "accept_eula=true", targetVariant: String? = nil, inferenceComponent: String? = nil,
        sessionId: String? = nil, maxNewTokens: Int? = nil
    ) {
        self.endpoint = endpoint
        self.body = body
        self.format = format
        self.stream = stream
        self.customAttributes = customAttributes
        self.targetVariant = targetVariant
        self.inferenceComponent = inferenceComponent
        self.sessionId = sessionId
        self.maxNewTokens = maxNewTokens
    }

    var input: InvokeEndpointInput {
        InvokeEndpointInput(
            endpointName: endpoint, body: body, contentType: "application/json", customAttributes: customAttributes,
            targetVariant: targetVariant, inferenceComponentName: inferenceComponent, sessionId: sessionId)
    }
}
