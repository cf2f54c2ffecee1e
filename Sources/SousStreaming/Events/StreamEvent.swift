/// What a streaming parser found in a container's output.
public enum StreamEvent: Sendable, Hashable {
    /// A piece of generated text. `special` tokens (e.g. `</s>`) are not meant to be printed.
    case token(text: String, id: Int?, special: Bool)
    /// The end of the generation: the container's full text when it sent one, and its details.
    case final(generatedText: String?, details: StreamDetails?)
    /// An error the container reported inside the stream (or a stream cut in the middle of an event).
    case error(message: String)
}

/// The `details` of a finished generation.
public struct StreamDetails: Sendable, Hashable {
    /// `length`, `eos_token`, `stop_sequence` (or `error` for LMI).
    public var finishReason: String?
    public var generatedTokens: Int?

    public init(finishReason: String? = nil, generatedTokens: Int? = nil) {
        self.finishReason = finishReason
        self.generatedTokens = generatedTokens
    }
}
