public import Foundation

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
        /// The call hit its idle timeout or its deadline (`InvocationLimits`); `message` says which.
        case timedOut
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
        case .invalidInput, .timedOut:
            s += "\(message)"
        }
        if receivedByteCount > 0 { s += " (\(receivedByteCount) bytes of output were received before the error)" }
        if let requestId { s += " [request id \(requestId)]" }
        return s
    }
}
