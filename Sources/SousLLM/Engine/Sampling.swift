import Foundation

/// Decoding settings, with transformers' semantics (repetition penalty → temperature → top-k → top-p).
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

    /// Parameters from `generation_config.json` defaults (greedy unless it sets `do_sample`).
    public init(defaults d: GenerationDefaults) {
        let sampling = d.doSample ?? false
        self.init(
            temperature: d.temperature ?? 1, topK: sampling ? d.topK ?? 0 : 0, topP: sampling ? d.topP ?? 1 : 1,
            repetitionPenalty: d.repetitionPenalty ?? 1, maxNewTokens: d.maxNewTokens ?? 256, doSample: sampling)
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

/// SplitMix64: a small deterministic generator for seeded sampling.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform float in [0, 1).
    mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

/// Picks the next token from logits.
struct Sampler {
    let parameters: SamplingParameters
    var rng: SplitMix64

    init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SplitMix64(seed: parameters.seed ?? UInt64.random(in: 0...UInt64.max))
    }

    /// transformers' RepetitionPenaltyLogitsProcessor over the set of previous tokens.
    static func applyRepetitionPenalty(_ logits: UnsafeMutablePointer<Float>, _ seen: Set<Int>, _ penalty: Float) {
        guard penalty != 1 else { return }
        for id in seen {
            let l = logits[id]
            logits[id] = l < 0 ? l * penalty : l / penalty
        }
    }

    static func argmax(_ logits: UnsafePointer<Float>, _ n: Int) -> Int {
        var best = 0
        var bestValue = logits[0]
        for i in 1..<n where logits[i] > bestValue {
            best = i
            bestValue = logits[i]
        }
        return best
    }

    mutating func sample(_ logits: UnsafeMutablePointer<Float>, vocab n: Int, seen: Set<Int>) -> Int {
        Sampler.applyRepetitionPenalty(logits, seen, parameters.repetitionPenalty)
        guard parameters.isSampling else { return Sampler.argmax(logits, n) }
        let t = parameters.temperature
        // Candidates (id, scaled logit), sorted descending.
        var candidates: [(id: Int, logit: Float)]
        if parameters.topK > 0 && parameters.topK < n {
            // Threshold = k-th largest value; ties at the threshold are kept (torch.topk semantics).
            var values = (0..<n).map { logits[$0] }
            let k = parameters.topK
            values.sort(by: >)
            let threshold = values[k - 1]
            candidates = (0..<n).compactMap { logits[$0] >= threshold ? ($0, logits[$0] / t) : nil }
        } else {
            candidates = (0..<n).map { ($0, logits[$0] / t) }
        }
        candidates.sort { $0.logit != $1.logit ? $0.logit > $1.logit : $0.id < $1.id }
        let maxLogit = candidates[0].logit
        var probs = candidates.map { exp($0.logit - maxLogit) }
        var total = probs.reduce(0, +)
        if parameters.topP < 1 {
            // Drop the low tail whose cumulative probability (ascending) is ≤ 1 − top_p; keep at least one.
            let limit = (1 - parameters.topP) * total
            var cum: Float = 0
            var keep = probs.count
            for i in stride(from: probs.count - 1, to: 0, by: -1) {
                cum += probs[i]
                if cum <= limit { keep = i } else { break }
            }
            probs.removeLast(probs.count - keep)
            total = probs.reduce(0, +)
        }
        let r = rng.nextUnit() * total
        var acc: Float = 0
        for (i, p) in probs.enumerated() {
            acc += p
            if r < acc { return candidates[i].id }
        }
        return candidates[probs.count - 1].id
    }
}
