import Foundation
import SousLLM

/// Throughput of one model on this machine.
public struct LLMBenchmarkResult: Sendable, Codable, Equatable {
    public var model: String
    public var dtype: String
    public var threads: Int
    public var promptTokens: Int
    public var decodeTokens: Int
    /// Prompt tokens per second when the prompt is prefilled as matrix–matrix work.
    public var prefillTokensPerSecond: Double
    /// Generated tokens per second (one token per forward pass, from BOS, KV cache growing).
    public var decodeTokensPerSecond: Double
    /// Weight bytes streamed per decoded token × decode tokens/s, in GB/s.
    public var weightBandwidthGBs: Double
}

/// Measures prefill and decode speed of the model in `directory` (the best of `repeats` runs).
/// Decoding feeds back the argmax and ignores EOS, so every run does exactly `decodeTokens` steps.
public func runLLMBenchmark(
    directory: String, threads: Int, promptTokens: Int = 128, decodeTokens: Int = 256, repeats: Int = 3
) throws -> LLMBenchmarkResult {
    let model = try LlamaModel.load(directory: directory, threads: threads)
    let vocab = model.config.vocabSize
    let prompt = [model.bosTokenID ?? 1] + (0..<max(promptTokens - 1, 0)).map { 3 + ($0 * 7919) % max(vocab - 3, 1) }
    let decodeSteps = min(decodeTokens, model.config.maxPositionEmbeddings)
    var bestPrefill = 0.0
    var bestDecode = 0.0
    func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    for _ in 0..<max(repeats, 1) {
        if promptTokens > 0 {
            let state = try InferenceState(model: model, capacity: prompt.count)
            let t0 = now()
            try state.forward(prompt, wantLogits: true)
            bestPrefill = max(bestPrefill, Double(prompt.count) / (Double(now() - t0) / 1e9))
        }
        let state = try InferenceState(model: model, capacity: decodeSteps)
        var token = model.bosTokenID ?? 1
        var logits = try state.forward([token], wantLogits: true)
        token = Sampler.argmax(logits, vocab)
        let t0 = now()
        for _ in 1..<decodeSteps {
            logits = try state.forward([token], wantLogits: true)
            token = Sampler.argmax(logits, vocab)
        }
        bestDecode = max(bestDecode, Double(decodeSteps - 1) / (Double(now() - t0) / 1e9))
    }
    return LLMBenchmarkResult(
        model: URL(fileURLWithPath: directory).lastPathComponent, dtype: model.weightDType.rawValue, threads: threads,
        promptTokens: prompt.count, decodeTokens: decodeSteps, prefillTokensPerSecond: bestPrefill,
        decodeTokensPerSecond: bestDecode,
        weightBandwidthGBs: Double(model.weightBytesPerToken) * bestDecode / 1e9)
}
