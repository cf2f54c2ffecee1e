import Foundation
import Synchronization

/// One generated token and the text it completed.
public struct GeneratedToken: Sendable, Equatable {
    /// The token id.
    public let id: Int
    /// Newly decoded text; empty while a UTF-8 character is still incomplete (or for special tokens).
    public let text: String
}

/// Why generation ended.
public enum FinishReason: String, Sendable, Equatable {
    /// The model produced an end-of-sequence token.
    case eos
    /// `maxNewTokens` (or the context window) was reached.
    case length
    /// A stop sequence appeared in the output.
    case stop
    /// The caller stopped generation (callback returned false, Task cancelled, or a CancellationFlag set).
    case cancelled
}

/// The outcome of one generation.
public struct GenerationResult: Sendable, Equatable {
    /// The generated text (without a matched stop sequence and anything after it).
    public var text: String
    /// Generated token ids (including a final EOS token when one was produced).
    public var tokenIDs: [Int]
    /// The number of generated tokens.
    public var tokenCount: Int { tokenIDs.count }
    /// The number of prompt tokens (including BOS).
    public var promptTokens: Int
    public var finishReason: FinishReason
    /// Seconds from the call to the first generated token (prompt encoding and prefill included).
    public var timeToFirstToken: Double
    /// Decode speed: tokens after the first divided by the time they took.
    public var tokensPerSecond: Double
    /// Prefill speed: prompt tokens per second.
    public var prefillTokensPerSecond: Double
}

/// A flag another thread can set to stop generation between tokens.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    /// Requests cancellation.
    public func cancel() { flag.store(true, ordering: .relaxed) }
    /// Whether cancellation was requested.
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// Events of `LlamaModel.stream`.
public enum GenerationEvent: Sendable {
    case token(GeneratedToken)
    case finished(GenerationResult)
}

extension LlamaModel {
    /// Tokenizes `prompt` (BOS added by the tokenizer's post-processor; a duplicated leading BOS from a
    /// literal `<s>` in the prompt is collapsed).
    public func encodePrompt(_ prompt: String) -> [Int] {
        var ids = tokenizer.encode(prompt, addSpecialTokens: true)
        if let bos = bosTokenID, ids.count >= 2, ids[0] == bos, ids[1] == bos { ids.removeFirst() }
        return ids
    }

    /// Generates a continuation of `prompt`, calling `onToken` per token (return false to stop).
    public func generate(
        prompt: String, parameters: SamplingParameters, cancellation: CancellationFlag? = nil,
        onToken: (GeneratedToken) -> Bool = { _ in true }
    ) throws -> GenerationResult {
        let start = DispatchTime.now()
        return try generate(
            tokens: encodePrompt(prompt), parameters: parameters, cancellation: cancellation, startTime: start,
            onToken: onToken)
    }

    /// Generates a continuation of the prompt token ids.
    public func generate(
        tokens prompt: [Int], parameters: SamplingParameters, cancellation: CancellationFlag? = nil,
        onToken: (GeneratedToken) -> Bool = { _ in true }
    ) throws -> GenerationResult {
        try generate(tokens: prompt, parameters: parameters, cancellation: cancellation, startTime: .now(), onToken: onToken)
    }

    func generate(
        tokens prompt: [Int], parameters: SamplingParameters, cancellation: CancellationFlag?, startTime: DispatchTime,
        onToken: (GeneratedToken) -> Bool
    ) throws -> GenerationResult {
        try parameters.validate()
        guard !prompt.isEmpty else { throw LLMError.invalidParameter("the prompt is empty (no tokens to condition on)") }
        guard prompt.count < config.maxPositionEmbeddings else {
            throw LLMError.contextOverflow(promptTokens: prompt.count, contextLength: config.maxPositionEmbeddings)
        }
        let maxNew = min(parameters.maxNewTokens, config.maxPositionEmbeddings - prompt.count)
        let state = try InferenceState(model: self, capacity: prompt.count + max(maxNew, 0))
        var sampler = Sampler(parameters)
        var seen = Set(prompt)
        var decoder = tokenizer.makeStreamingDecoder()
        var text = ""
        var generated: [Int] = []
        var finish = FinishReason.length
        let maxStop = parameters.stop.map(\.count).max() ?? 0
        func seconds(_ a: DispatchTime, _ b: DispatchTime) -> Double {
            Double(b.uptimeNanoseconds &- a.uptimeNanoseconds) / 1e9
        }
        func cancelled() -> Bool { Task.isCancelled || (cancellation?.isCancelled ?? false) }

        let prefillStart = DispatchTime.now()
        var firstTokenTime: DispatchTime?
        var prefillEnd = prefillStart
        if maxNew > 0 && !cancelled() {
            var logits = try state.forward(prompt, wantLogits: true)
            prefillEnd = .now()
            while true {
                let next = sampler.sample(logits, vocab: config.vocabSize, seen: seen)
                if firstTokenTime == nil { firstTokenTime = .now() }
                generated.append(next)
                seen.insert(next)
                if eosTokenIDs.contains(next) {
                    finish = .eos
                    break
                }
                let piece = decoder.append(next)
                text += piece
                if !onToken(GeneratedToken(id: next, text: piece)) {
                    finish = .cancelled
                    break
                }
                if maxStop > 0, let cut = LlamaModel.stopMatch(text, parameters.stop, tail: piece.count + maxStop) {
                    text = String(text[..<cut])
                    finish = .stop
                    break
                }
                if generated.count >= maxNew { break }
                if cancelled() {
                    finish = .cancelled
                    break
                }
                logits = try state.forward([next], wantLogits: true)
            }
        } else if cancelled() {
            finish = .cancelled
        }
        if finish != .stop { text += decoder.flush() }
        let end = DispatchTime.now()
        let first = firstTokenTime ?? end
        let decodeTime = seconds(first, end)
        let prefillTime = seconds(prefillStart, prefillEnd)
        return GenerationResult(
            text: text, tokenIDs: generated, promptTokens: prompt.count, finishReason: finish,
            timeToFirstToken: seconds(startTime, first),
            tokensPerSecond: generated.count > 1 && decodeTime > 0 ? Double(generated.count - 1) / decodeTime : 0,
            prefillTokensPerSecond: prefillTime > 0 ? Double(prompt.count) / prefillTime : 0)
    }

    /// The index where the earliest stop sequence starts, looking at the last `tail` characters.
    static func stopMatch(_ text: String, _ stops: [String], tail: Int) -> String.Index? {
        let from = text.index(text.endIndex, offsetBy: -min(tail, text.count))
        var best: String.Index?
        for s in stops where !s.isEmpty {
            if let r = text.range(of: s, range: from..<text.endIndex), best == nil || r.lowerBound < best! {
                best = r.lowerBound
            }
        }
        return best
    }

    /// Streams generation from a background thread; cancelling the consuming task stops it between tokens.
    public func stream(prompt: String, parameters: SamplingParameters) -> AsyncThrowingStream<GenerationEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let flag = CancellationFlag()
        continuation.onTermination = { _ in flag.cancel() }
        let thread = Thread { [self] in
            do {
                let result = try self.generate(prompt: prompt, parameters: parameters, cancellation: flag) { token in
                    if case .terminated = continuation.yield(.token(token)) { return false }
                    return !flag.isCancelled
                }
                continuation.yield(.finished(result))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
        return stream
    }
}
