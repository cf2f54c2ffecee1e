public import Foundation
import SousHTTP

/// The input of InvokeEndpoint and InvokeEndpointWithResponseStream.
public struct InvokeEndpointInput: Sendable {
    /// ≤ 63 characters, `[a-zA-Z0-9](-*[a-zA-Z0-9])*`.
    public var endpointName: String
    /// The raw model payload (≤ 6 MiB).
    public var body: Data
    /// `Content-Type` of `body`.
    public var contentType: String
    /// The wanted response type: `X-Amzn-SageMaker-Accept` for the streaming call, `Accept` otherwise.
    public var accept: String?
    /// `X-Amzn-SageMaker-Custom-Attributes` (≤ 1024 ASCII; e.g. `accept_eula=true`).
    public var customAttributes: String?
    /// `X-Amzn-SageMaker-Target-Variant`.
    public var targetVariant: String?
    /// `X-Amzn-SageMaker-Target-Container-Hostname`.
    public var targetContainerHostname: String?
    /// `X-Amzn-SageMaker-Inference-Id`.
    public var inferenceId: String?
    /// `X-Amzn-SageMaker-Inference-Component`.
    public var inferenceComponentName: String?
    /// `X-Amzn-SageMaker-Session-Id`.
    public var sessionId: String?

    public init(
        endpointName: String, body: Data, contentType: String = "application/json", accept: String? = nil,
        customAttributes: String? = nil, targetVariant: String? = nil, targetContainerHostname: String? = nil,
        inferenceId: String? = nil, inferenceComponentName: String? = nil, sessionId: String? = nil
    ) {
        self.endpointName = endpointName
        self.body = body
        self.contentType = contentType
        self.accept = accept
        self.customAttributes = customAttributes
        self.targetVariant = targetVariant
        self.targetContainerHostname = targetContainerHostname
        self.inferenceId = inferenceId
        self.inferenceComponentName = inferenceComponentName
        self.sessionId = sessionId
    }
}

/// The answer of InvokeEndpoint.
public struct InvokeEndpointOutput: Sendable {
    public var body: Data
    /// The model's content type (`Content-Type`).
    public var contentType: String?
    public var invokedProductionVariant: String?
    public var customAttributes: String?
    public var newSessionId: String?
    public var closedSessionId: String?
    public var requestId: String?
}

/// The answer of InvokeEndpointWithResponseStream: response headers, and the payload parts as they arrive.
public struct InvokeEndpointStreamOutput: Sendable {
    /// The model's content type (`X-Amzn-SageMaker-Content-Type`, e.g. `text/event-stream` for TGI).
    public var contentType: String?
    public var invokedProductionVariant: String?
    public var customAttributes: String?
    public var requestId: String?
    /// The `PayloadPart` bytes, in order. Throws `SageMakerRuntimeError` for error events and broken streams.
    public var payloadParts: SageMakerPayloadStream
}
