public import SousStreaming

/// What the sampler runs with: every setting resolved, with transformers' semantics (repetition penalty →
/// temperature → top-k → top-p).
///
/// The second of two layers. `GenerationParameters` (SousStreaming) is what a caller or a model's
/// `generation_config.json` *asks for*: optional values in the wire's units, left out so a default applies,
/// validated against a container's rules. `SamplingParameters` is what one generation *does*: no optionals,
/// `Float` as the kernels compute, validated against what the sampler can run. `init(_:)` resolves the first
/// into the second; the local cloud's containers build it from a request with their own defaults.
public struct SamplingParameters: Sendable, Equatable {
    /// Softmax temperature; 0 means greedy.
    public var temperature: Float
    /// Keep only the k most likely tokens (0 = off).
    public var topK: Int
    /// Nucleus sampling mass (1 = off).
    public var topP: Float
    /// > 1 discourages tokens already present in the prompt or output (1 = off).
    public var repetitionPenalty: Float
    /// Seed for the deterministic sampler (nil = random).
    public var seed: UInt64?
    /// The maximum number of tokens to generate.
    public var maxNewTokens: Int
    /// Generation stops when the output contains one of these strings (the result text ends before it).
    public var stop: [String]
    /// Sample (true) or take the argmax (false).
    public var doSample: Bool

    public init(
        temperature: Float = 1, topK: Int = 0, topP: Float = 1, repetitionPenalty: Float = 1, seed: UInt64? = nil,
        maxNewTokens: Int = 256, stop: [String] = [], doSample: Bool = false
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
        self.maxNewTokens = maxNewTokens
        self.stop = stop
        self.doSample = doSample
    }

    /// Greedy decoding of up to `maxNewTokens` tokens.
    public static func greedy(maxNewTokens: Int = 256) -> SamplingParameters {
        SamplingParameters(maxNewTokens: maxNewTokens)
    }

    /// Resolves requested parameters (e.g. a model's `generationDefaults`): unset values take transformers'
    /// defaults, greedy unless `doSample` is set, and top-k/top-p only apply when sampling.
    public init(_ p: GenerationParameters) {
        let sampling = p.doSample ?? false
        self.init(
            temperature: p.temperature.map(Float.init) ?? 1, topK: sampling ? p.topK ?? 0 : 0,
            topP: sampling ? p.topP.map(Float.init) ?? 1 : 1, repetitionPenalty: p.repetitionPenalty.map(Float.init) ?? 1,
            seed: p.seed, maxNewTokens: p.maxNewTokens ?? 256, stop: p.stop, doSample: sampling)
    }

    /// Whether tokens are drawn at random (otherwise argmax).
    public var isSampling: Bool { doSample && temperature > 0 }

    func validate() throws {
        guard temperature >= 0, temperature.isFinite else { throw LLMError.invalidParameter("temperature must be ≥ 0") }
        guard topK >= 0 else { throw LLMError.invalidParameter("top-k must be ≥ 0") }
        guard topP > 0, topP <= 1 else { throw LLMError.invalidParameter("top-p must be in (0, 1]") }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else {
            throw LLMError.invalidParameter("repetition penalty must be > 0")
        }
        guard maxNewTokens >= 0 else { throw LLMError.invalidParameter("max-new-tokens must be ≥ 0") }
    }
}
