/// Errors raised while loading or running a local Llama model.
///
/// Every case carries enough context to name the file or tensor involved and how to fix it.
public enum LLMError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The model directory does not exist.
    case modelDirectoryNotFound(String)
    /// A required file is missing from the model directory.
    case missingFile(String)
    /// A JSON file could not be parsed or lacks a required key.
    case invalidJSON(file: String, reason: String)
    /// The architecture is not a Llama-family decoder.
    case unsupportedArchitecture(String)
    /// A configuration value is not supported (e.g. an unknown RoPE scaling).
    case unsupportedConfiguration(String)
    /// A tensor uses a dtype the runtime cannot read.
    case unsupportedDType(tensor: String, dtype: String)
    /// A required tensor is absent from every safetensors file.
    case missingTensor(String)
    /// A tensor's shape differs from the one config.json implies.
    case shapeMismatch(tensor: String, expected: [Int], actual: [Int])
    /// A safetensors file is malformed.
    case invalidSafetensors(file: String, reason: String)
    /// tokenizer.json is malformed or uses an unsupported feature.
    case invalidTokenizer(String)
    /// A generation parameter is out of range.
    case invalidParameter(String)
    /// The prompt does not fit the model's context window.
    case contextOverflow(promptTokens: Int, contextLength: Int)

    public var description: String {
        switch self {
        case .modelDirectoryNotFound(let path):
            return "model directory \(path) does not exist; pass a folder holding config.json, tokenizer.json and *.safetensors"
        case .missingFile(let path):
            return "missing \(path); a Hugging Face Llama snapshot needs config.json, tokenizer.json and model.safetensors (or a sharded index)"
        case .invalidJSON(let file, let reason):
            return "\(file) is not valid: \(reason); re-download the snapshot"
        case .unsupportedArchitecture(let arch):
            return "unsupported model architecture \(arch); only Llama-architecture models (LlamaForCausalLM, model_type llama) can run locally"
        case .unsupportedConfiguration(let what):
            return "unsupported model configuration: \(what)"
        case .unsupportedDType(let tensor, let dtype):
            return "tensor \(tensor) has dtype \(dtype); the local Llama runtime reads F32, F16 and BF16 weights only (convert the checkpoint first)"
        case .missingTensor(let name):
            return "tensor \(name) is missing from the safetensors files; the checkpoint is incomplete or not a Llama model"
        case .shapeMismatch(let tensor, let expected, let actual):
            return "tensor \(tensor) has shape \(actual) but config.json implies \(expected); config.json and the weights do not match"
        case .invalidSafetensors(let file, let reason):
            return "\(file) is not a valid safetensors file: \(reason); re-download it"
        case .invalidTokenizer(let reason):
            return "tokenizer.json cannot be used: \(reason)"
        case .invalidParameter(let reason):
            return "invalid generation parameter: \(reason)"
        case .contextOverflow(let prompt, let context):
            return "the prompt has \(prompt) tokens but the model's context holds \(context); shorten the prompt or lower max-new-tokens"
        }
    }
}
