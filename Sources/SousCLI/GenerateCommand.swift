import ArgumentParser
import Foundation
import SousLLM
import SousStreaming

/// `sous generate`: local text generation with a Llama-architecture Hugging Face snapshot on the CPU.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text locally (CPU) from a Llama-architecture Hugging Face snapshot.",
        discussion: """
            Tokens stream to stdout as they are produced; time to first token and tokens/s go to stderr.
            With --json, each token is printed as {"id":…,"text":…} and a final summary object follows.
            """)

    @Option(help: "Model directory holding config.json, tokenizer.json and *.safetensors.")
    var model: String

    @Option(help: "The prompt (the user message when --template is given).")
    var prompt: String = ""

    @Option(help: "Chat template to wrap the prompt in.")
    var template: PromptTemplate?

    @Option(help: "System message (with --template).")
    var system: String?

    @Option(help: "Sampling temperature (0 = greedy; > 0 enables sampling).")
    var temperature: Float?

    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass in (0, 1].")
    var topP: Float?

    @Option(name: .customLong("top-k"), help: "Sample among the k most likely tokens (0 = off).")
    var topK: Int?

    @Option(name: .customLong("repetition-penalty"), help: "Penalty > 1 for tokens already seen (transformers semantics).")
    var repetitionPenalty: Float?

    @Option(help: "Random seed for reproducible sampling.")
    var seed: UInt64?

    @Option(name: .customLong("max-new-tokens"), help: "Maximum tokens to generate (default: generation_config.json or 256).")
    var maxNewTokens: Int?

    @Option(help: "Stop sequence (repeatable).")
    var stop: [String] = []

    @Option(help: "Matmul threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print one JSON object per token and a summary object.")
    var json = false

    func run() async throws {
        var renderedPrompt = prompt
        var stops = stop
        if let t = template {
            var messages: [ChatMessage] = []
            if let system { messages.append(.system(system)) }
            messages.append(.user(prompt))
            renderedPrompt = t.render(messages)
            stops += t.stopSequences.filter { !stops.contains($0) }
        } else if system != nil {
            throw ValidationError("--system needs --template")
        }
        let llm = try LlamaModel.load(directory: model, threads: threads)
        let d = llm.generationDefaults
        let temp = temperature ?? d.temperature.map(Float.init) ?? 1
        let sampling = temperature.map { $0 > 0 } ?? (d.doSample ?? false)
        let params = SamplingParameters(
            temperature: temp, topK: topK ?? (sampling ? d.topK ?? 0 : 0),
            topP: topP ?? (sampling ? d.topP.map(Float.init) ?? 1 : 1),
            repetitionPenalty: repetitionPenalty ?? d.repetitionPenalty.map(Float.init) ?? 1, seed: seed,
            maxNewTokens: maxNewTokens ?? d.maxNewTokens ?? 256, stop: stops, doSample: sampling)
        let out = FileHandle.standardOutput
        let result = try llm.generate(prompt: renderedPrompt, parameters: params) { token in
            if json {
                out.write(Data((GenerateCommand.jsonLine(["id": token.id, "text": token.text]) + "\n").utf8))
            } else if !token.text.isEmpty {
                out.write(Data(token.text.utf8))
            }
            return true
        }
        if json {
            let summary: [String: Any] = [
                "finish_reason": result.finishReason.rawValue, "generated_tokens": result.tokenCount,
                "prompt_tokens": result.promptTokens, "text": result.text,
                "time_to_first_token": result.timeToFirstToken, "tokens_per_second": result.tokensPerSecond,
                "prefill_tokens_per_second": result.prefillTokensPerSecond,
            ]
            out.write(Data((GenerateCommand.jsonLine(summary) + "\n").utf8))
        } else {
            out.write(Data("\n".utf8))
            let line = String(
                format: "time to first token: %.0f ms, %d tokens, %.1f tokens/s (prompt %d tokens at %.1f tokens/s), finish: %@\n",
                result.timeToFirstToken * 1000, result.tokenCount, result.tokensPerSecond, result.promptTokens,
                result.prefillTokensPerSecond, result.finishReason.rawValue)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    static func jsonLine(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
