public import Foundation
public import SousLLM

/// The endpoints' real model: SousLLM's pure-Swift Llama runtime over a Hugging Face snapshot folder.
public struct LlamaTextGenerator: TextGenerator {
    let model: LlamaModel
    public let memoryBytes: UInt64

    /// Loads `directory` (config.json, tokenizer.json, *.safetensors).
    public init(directory: URL) throws {
        model = try LlamaModel.load(directory: directory.path)
        var bytes: UInt64 = 0
        let fm = FileManager.default
        for f in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? [] where f.hasSuffix(".safetensors") {
            bytes += fileSize(directory.appendingPathComponent(f))
        }
        memoryBytes = bytes
    }

    /// The loader the `sous local serve` server uses.
    public static let loader: ModelLoader = { dir in try LlamaTextGenerator(directory: dir) }

    public func tokenCount(_ text: String) -> Int { model.encodePrompt(text).count }

    public func generate(prompt: String, parameters: SamplingParameters, onToken: (TokenEvent) -> Bool) throws -> GenerationFinish {
        var params = parameters
        params.topP = min(1, max(parameters.topP, 1e-6))
        params.stop = []  // the endpoint host matches stop sequences on the text it sends
        let eos = model.eosTokenIDs
        let tokenizer = model.tokenizer
        let result = try model.generate(prompt: prompt, parameters: params) { t in
            let special = eos.contains(t.id)
            return onToken(TokenEvent(id: t.id, text: special ? (tokenizer.piece(for: t.id) ?? "") : t.text, special: special))
        }
        switch result.finishReason {
        case .eos: return .eosToken
        case .stop: return .stopSequence
        case .length, .cancelled: return .length
        }
    }
}
