public import SousLLM

/// One generated token.
public struct TokenEvent: Sendable, Equatable {
    public var id: Int
    /// Decoded text of this token (may be empty while a multi-byte character is incomplete).
    public var text: String
    public var logprob: Double?
    public var special: Bool

    public init(id: Int, text: String, logprob: Double? = nil, special: Bool = false) {
        self.id = id
        self.text = text
        self.logprob = logprob
        self.special = special
    }
}

/// Why generation ended.
public enum GenerationFinish: String, Sendable {
    case length, eosToken = "eos_token", stopSequence = "stop_sequence"
}

/// The text generation behind an endpoint: a loaded model. `generate` runs on a background thread
/// (never the cooperative pool) and calls `onToken` for each token; returning false stops early.
public protocol TextGenerator: Sendable {
    /// Bytes of memory the loaded model holds (for the "not enough memory" check and `status`).
    var memoryBytes: UInt64 { get }
    /// Number of tokens in `text` (TGI's input-length validation).
    func tokenCount(_ text: String) -> Int
    /// Generates up to `parameters.maxNewTokens` tokens after `prompt`. The endpoint host checks
    /// `parameters.stop` against the text itself (a container stops once its text ends with a stop sequence).
    func generate(prompt: String, parameters: SamplingParameters, onToken: (TokenEvent) -> Bool) throws -> GenerationFinish
}
