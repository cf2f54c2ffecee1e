public import Foundation
public import SousAWS
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

extension InvocationLimits {
    /// The limits from seconds, as the step's `idle_timeout` / `deadline` inputs and `sous invoke
    /// --idle-timeout` / `--deadline` give them; nil keeps the default.
    /// - Throws: `InvocationInputError` for a value that is not a positive number.
    public init(idleTimeout: Double?, deadline: Double?) throws(InvocationInputError) {
        self.init()
        func duration(_ name: String, _ seconds: Double) throws(InvocationInputError) -> Duration {
            guard seconds > 0, seconds.isFinite else {
                throw InvocationInputError("\(name) must be a positive number of seconds (got \(seconds))")
            }
            return .milliseconds(Int64((seconds * 1000).rounded()))
        }
        if let idleTimeout { self.idleTimeout = try duration("idle_timeout", idleTimeout) }
        if let deadline { self.deadline = try duration("deadline", deadline) }
    }
}
