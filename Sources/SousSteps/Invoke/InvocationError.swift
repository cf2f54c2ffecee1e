public import SousAWS

/// A generation that failed or was stopped; `partial` holds what was received (and printed) before.
public struct InvocationError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The service or the stream failed (ModelError, ModelStreamError, …): see `runtimeError`.
        case runtime
        /// The container reported an error inside its output (TGI `{"error": …}`, LMI `finish_reason: error`).
        case container
        /// The task was cancelled (Ctrl-C).
        case cancelled
    }

    public var kind: Kind
    public var endpoint: String
    public var message: String
    public var partial: InvocationResult
    public var runtimeError: SageMakerRuntimeError?

    public var description: String {
        var s: String
        switch kind {
        case .runtime: s = runtimeError?.description ?? "endpoint \(endpoint): \(message)"
        case .container: s = "endpoint \(endpoint): the model container reported an error in its output: \(message)"
        case .cancelled: s = "endpoint \(endpoint): the answer was stopped"
        }
        if partial.tokens > 0 {
            s += "; \(partial.tokens) token\(partial.tokens == 1 ? " was" : "s were") printed before it"
        }
        return s
    }
}
