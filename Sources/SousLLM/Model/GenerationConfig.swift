import Foundation
import SousStreaming

/// What a model's `generation_config.json` says: its default generation parameters and the tokens that
/// end generation.
struct GenerationConfig: Sendable, Equatable {
    /// `do_sample`, `temperature`, `top_k`, `top_p`, `repetition_penalty` and `max_new_tokens`; absent keys
    /// (and a missing file) stay nil, as they would in a request.
    var defaults = GenerationParameters()
    /// `eos_token_id` (an int or a list).
    var eosTokenIDs: [Int] = []

    /// Reads `path`; a missing file gives empty defaults.
    /// - Throws: `LLMError.invalidJSON` when the file is not a JSON object.
    static func load(path: String) throws -> GenerationConfig {
        guard FileManager.default.fileExists(atPath: path) else { return GenerationConfig() }
        let json = try readJSONObject(path)
        var c = GenerationConfig()
        c.defaults.doSample = jsonBool(json["do_sample"])
        c.defaults.temperature = jsonDouble(json["temperature"])
        c.defaults.topK = jsonInt(json["top_k"])
        c.defaults.topP = jsonDouble(json["top_p"])
        c.defaults.repetitionPenalty = jsonDouble(json["repetition_penalty"])
        c.defaults.maxNewTokens = jsonInt(json["max_new_tokens"])
        c.eosTokenIDs = jsonIntList(json["eos_token_id"])
        return c
    }
}
