import Foundation

/// The architecture hyper-parameters of a Llama-family model, read from `config.json`.
///
/// Accepts both the transformers 4 layout (`rope_theta`, `torch_dtype`) and the transformers 5
/// layout (`rope_parameters`, `dtype`, `head_dim`).
public struct LlamaConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    /// Linear RoPE scaling factor (1 when absent).
    public var ropeScalingFactor: Float
    public var tieWordEmbeddings: Bool
    /// The dtype named in config.json (informational: tensors keep their stored types).
    public var dtype: String?
    public var bosTokenID: Int?
    public var eosTokenIDs: [Int]

    /// Builds a config from its values (`load(path:)` and the tests).
    public init(
        hiddenSize: Int, intermediateSize: Int, numLayers: Int, numHeads: Int, numKVHeads: Int,
        headDim: Int? = nil, vocabSize: Int, maxPositionEmbeddings: Int = 2048, rmsNormEps: Float = 1e-5,
        ropeTheta: Float = 10000, ropeScalingFactor: Float = 1, tieWordEmbeddings: Bool = false,
        dtype: String? = nil, bosTokenID: Int? = 1, eosTokenIDs: [Int] = [2]
    ) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim ?? hiddenSize / max(numHeads, 1)
        self.vocabSize = vocabSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScalingFactor = ropeScalingFactor
        self.tieWordEmbeddings = tieWordEmbeddings
        self.dtype = dtype
        self.bosTokenID = bosTokenID
        self.eosTokenIDs = eosTokenIDs
    }

    /// Parses `config.json`.
    public static func load(path: String) throws -> LlamaConfig {
        try parse(readJSONObject(path), file: path)
    }

    static func parse(_ json: [String: Any], file: String) throws -> LlamaConfig {
        let modelType = json["model_type"] as? String
        let architectures = (json["architectures"] as? [String]) ?? []
        let llamaLike: Set<String> = ["llama", "mistral"]
        if let modelType, !llamaLike.contains(modelType) {
            throw LLMError.unsupportedArchitecture("\(modelType) (\(architectures.joined(separator: ", ")))")
        }
        if modelType == nil, !architectures.isEmpty,
            !architectures.contains(where: { $0.hasPrefix("Llama") || $0.hasPrefix("Mistral") })
        {
            throw LLMError.unsupportedArchitecture(architectures.joined(separator: ", "))
        }
        if let act = json["hidden_act"] as? String, act != "silu" {
            throw LLMError.unsupportedConfiguration("hidden_act \(act) (only silu is supported) in \(file)")
        }
        func required(_ key: String) throws -> Int {
            guard let v = jsonInt(json[key]), v > 0 else {
                throw LLMError.invalidJSON(file: file, reason: "\(key) is missing or not a positive integer")
            }
            return v
        }
        let hidden = try required("hidden_size")
        let heads = try required("num_attention_heads")
        let kvHeads = jsonInt(json["num_key_value_heads"]) ?? heads
        guard kvHeads > 0, heads % kvHeads == 0 else {
            throw LLMError.invalidJSON(
                file: file, reason: "num_attention_heads \(heads) is not a multiple of num_key_value_heads \(kvHeads)")
        }
        let headDim = jsonInt(json["head_dim"]) ?? hidden / heads
        // RoPE: top-level rope_theta (transformers 4), or rope_parameters / rope_scaling (5).
        var theta = jsonDouble(json["rope_theta"])
        var scaling: Float = 1
        for key in ["rope_parameters", "rope_scaling"] {
            guard let params = json[key] as? [String: Any] else { continue }
            if let t = jsonDouble(params["rope_theta"]) { theta = t }
            let type = (params["rope_type"] as? String) ?? (params["type"] as? String) ?? "default"
            switch type {
            case "default": break
            case "linear": scaling = Float(jsonDouble(params["factor"]) ?? 1)
            default:
                throw LLMError.unsupportedConfiguration("\(key).rope_type \(type) in \(file) (default and linear RoPE are supported)")
            }
        }
        return LlamaConfig(
            hiddenSize: hidden,
            intermediateSize: try required("intermediate_size"),
            numLayers: try required("num_hidden_layers"),
            numHeads: heads,
            numKVHeads: kvHeads,
            headDim: headDim,
            vocabSize: try required("vocab_size"),
            maxPositionEmbeddings: jsonInt(json["max_position_embeddings"]) ?? 2048,
            rmsNormEps: Float(jsonDouble(json["rms_norm_eps"]) ?? 1e-6),
            ropeTheta: Float(theta ?? 10000),
            ropeScalingFactor: scaling,
            tieWordEmbeddings: jsonBool(json["tie_word_embeddings"]) ?? false,
            dtype: (json["dtype"] as? String) ?? (json["torch_dtype"] as? String),
            bosTokenID: jsonInt(json["bos_token_id"]),
            eosTokenIDs: jsonIntList(json["eos_token_id"]))
    }
}
