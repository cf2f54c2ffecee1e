
/// Sampling settings for one generation, parsed from a TGI or LMI request.
public struct GenerationSettings: Sendable, Equatable {
    public var maxNewTokens: Int
    public var doSample: Bool = false
    public var temperature: Double = 1.0
    public var topK: Int = 0
    public var topP: Double = 1.0
    public var repetitionPenalty: Double = 1.0
    public var seed: UInt64?
    /// Generation stops once the text ends with one of these.
    public var stop: [String] = []

    public init(maxNewTokens: Int) { self.maxNewTokens = maxNewTokens }
}

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
    /// Generates up to `settings.maxNewTokens` tokens after `prompt`.
    func generate(prompt: String, settings: GenerationSettings, onToken: (TokenEvent) -> Bool) throws -> GenerationFinish
}
