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

/// How long an invocation may take: `sagemaker.invoke-stream`'s `idle_timeout` and `deadline`, `sous invoke
/// --idle-timeout/--deadline`.
public struct InvocationLimits: Sendable, Equatable {
    /// A call that receives no byte for this long ends (before the answer begins, or in the middle of a
    /// stream): a stuck model or connection.
    public var idleTimeout: Duration
    /// The whole call, retries and the streamed answer included, ends after this long (a stream that trickles
    /// forever); nil = no limit.
    public var deadline: Duration?

    public init(idleTimeout: Duration = .seconds(60), deadline: Duration? = .seconds(900)) {
        self.idleTimeout = idleTimeout
        self.deadline = deadline
    }

    /// The HTTP limits of an attempt that starts `elapsed` after the call: libcurl's low-speed limit (under one
    /// byte per second for `idleTimeout`) and what is left of the deadline.
    func timeouts(elapsed: Duration) -> HTTPTimeouts {
        var t = HTTPTimeouts()
        t.lowSpeedBytes = 1
        t.lowSpeedTime = idleTimeout
        t.connect = min(t.connect, idleTimeout)
        if let deadline { t.total = max(deadline - elapsed, .milliseconds(1)) }
        return t
    }

    /// Which limit a timeout `elapsed` into the call hit, as a sentence.
    func describeTimeout(after elapsed: Duration) -> String {
        if let deadline, elapsed + .milliseconds(250) >= deadline {
            return "the answer did not end within the \(Self.seconds(deadline)) s deadline (raise it with the step's deadline input or sous invoke --deadline)"
        }
        return "no byte of the answer for \(Self.seconds(idleTimeout)) s (the idle timeout; raise it with idle_timeout or --idle-timeout if the model is just slow)"
    }

    /// `2`, `2.5`: seconds for messages.
    static func seconds(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)" : String(format: "%.1f", Double(ms) / 1000)
    }
}
