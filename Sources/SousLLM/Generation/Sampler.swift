import Foundation

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
package struct Sampler {
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

    package static func argmax(_ logits: UnsafePointer<Float>, _ n: Int) -> Int {
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
