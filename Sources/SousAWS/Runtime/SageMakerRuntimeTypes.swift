public import Foundation
public import SousHTTP

/// Signs a request for an AWS service (SigV4). The AWS core's signer conforms through a small adapter;
/// tests against loopback servers may pass any implementation.
public protocol RequestSigner: Sendable {
    /// Returns `request` with its authentication headers added (`Authorization`, `X-Amz-Date`, …).
    /// `request.body` is `.bytes` and already final; `service` is the signing name, e.g. `sagemaker`.
    func sign(_ request: HTTPRequest, service: String, region: String) async throws -> HTTPRequest
}

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

/// An InvokeEndpoint / InvokeEndpointWithResponseStream failure, with what was received before it.
public struct SageMakerRuntimeError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The call was refused or failed before streaming (HTTP status ≥ 300): ModelError, ValidationError, …
        case http(status: Int)
        /// A `ModelStreamError` event (the container's stream failed; see `errorCode`).
        case modelStreamError
        /// An `InternalStreamFailure` event (try the request again).
        case internalStreamFailure
        /// Another exception or `:message-type: error` frame.
        case streamError
        /// The event stream itself is corrupt or truncated.
        case eventStream(EventStreamError)
        /// The connection failed while streaming.
        case transport
        /// The input is invalid (endpoint name, body size, header values); nothing was sent.
        case invalidInput
    }

    public var kind: Kind
    public var endpointName: String
    /// The service's error code: `ModelError`, `ValidationError`, `ModelStreamError`, `InternalStreamFailure`, …
    public var code: String
    public var message: String
    /// `ModelStreamError`'s `ErrorCode` (`ModelInvocationTimeExceeded`, `StreamBroken`).
    public var errorCode: String?
    /// ModelError details: the container's own status and message, and its CloudWatch log stream.
    public var originalStatusCode: Int?
    public var originalMessage: String?
    public var logStreamArn: String?
    public var requestId: String?
    /// The payload bytes received before the error (the model's output so far, at most 4 MiB).
    public var receivedPayload: Data
    /// The payload bytes received in total before the error.
    public var receivedByteCount: Int

    public init(
        kind: Kind, endpointName: String, code: String, message: String, errorCode: String? = nil,
        originalStatusCode: Int? = nil, originalMessage: String? = nil, logStreamArn: String? = nil,
        requestId: String? = nil, receivedPayload: Data = Data(), receivedByteCount: Int = 0
    ) {
        self.kind = kind
        self.endpointName = endpointName
        self.code = code
        self.message = message
        self.errorCode = errorCode
        self.originalStatusCode = originalStatusCode
        self.originalMessage = originalMessage
        self.logStreamArn = logStreamArn
        self.requestId = requestId
        self.receivedPayload = receivedPayload
        self.receivedByteCount = receivedByteCount
    }

    /// True for failures a retry may fix.
    public var isRetryable: Bool {
        switch kind {
        case .internalStreamFailure, .transport: true
        case .http(let s): s == 429 || s == 500 || s == 503 || s == 530
        case .modelStreamError: errorCode == "StreamBroken"
        default: false
        }
    }

    public var description: String {
        var s = "endpoint \(endpointName): "
        switch kind {
        case .http(let status):
            if code == "ModelError" {
                s += "the model container returned an error (ModelError, HTTP \(status)"
                if let o = originalStatusCode { s += "; the container answered \(o)" }
                s += "): \(originalMessage ?? message)"
                if let arn = logStreamArn { s += "; see the CloudWatch log stream \(arn)" }
            } else {
                s += "the call failed (\(code), HTTP \(status)): \(message)"
            }
        case .modelStreamError:
            s += "the model's response stream failed (ModelStreamError\(errorCode.map { ", \($0)" } ?? "")): \(message)"
        case .internalStreamFailure:
            s += "SageMaker's response stream failed (InternalStreamFailure): \(message); try the request again"
        case .streamError:
            s += "the response stream reported an error (\(code)): \(message)"
        case .eventStream(let e):
            s += "\(e)"
        case .transport:
            s += "the connection failed while streaming: \(message)"
        case .invalidInput:
            s += "\(message)"
        }
        if receivedByteCount > 0 { s += " (\(receivedByteCount) bytes of output were received before the error)" }
        if let requestId { s += " [request id \(requestId)]" }
        return s
    }
}
