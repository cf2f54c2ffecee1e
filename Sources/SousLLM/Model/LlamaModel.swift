import Foundation
public import SousStreaming

/// An owned, immutable Float buffer (norm weights) shared by every inference state.
final class FloatStorage: @unchecked Sendable {
    // @unchecked: written once in init, read-only afterwards.
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ values: [Float]) {
        count = values.count
        p = .allocate(capacity: max(values.count, 1))
        for (i, v) in values.enumerated() { p[i] = v }
    }
    deinit { p.deallocate() }
}

struct LayerWeights: Sendable {
    let attnNorm: FloatStorage
    let q: WeightMatrix
    let k: WeightMatrix
    let v: WeightMatrix
    let o: WeightMatrix
    let ffnNorm: FloatStorage
    let gate: WeightMatrix
    let up: WeightMatrix
    let down: WeightMatrix
}

/// A Llama-architecture decoder loaded from a Hugging Face snapshot directory.
///
/// Weights are memory-mapped from the safetensors files and kept in their stored dtype (f32, f16 or bf16).
/// The model is immutable and can be shared across threads; each generation owns its KV cache.
public final class LlamaModel: Sendable {
    /// Architecture hyper-parameters from config.json.
    public let config: LlamaConfig
    /// The tokenizer from tokenizer.json.
    public let tokenizer: Tokenizer
    /// The default generation parameters of generation_config.json (unset when it does not name them).
    public let generationDefaults: GenerationParameters
    /// Threads used by the matmul kernels.
    public let threads: Int
    /// The directory the model was loaded from.
    public let directory: String
    /// Token ids that end generation (config, generation_config and tokenizer EOS, merged).
    public let eosTokenIDs: Set<Int>

    let embedding: WeightMatrix
    let layers: [LayerWeights]
    let finalNorm: FloatStorage
    let lmHead: WeightMatrix
    /// Spinning workers for the kernels (nil with one thread).
    let pool: WorkerPool?
    /// The storage dtype of the largest weights (for reporting).
    public let weightDType: TensorDType
    /// Bytes of weights read per generated token.
    public let weightBytesPerToken: Int

    /// Loads config.json, generation_config.json, tokenizer.json and the safetensors weights from `directory`.
    /// - Parameter threads: matmul threads (default: all active processors).
    public static func load(directory: String, threads: Int? = nil) throws -> LlamaModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw LLMError.modelDirectoryNotFound(directory)
        }
        let dir = URL(fileURLWithPath: directory)
        let configPath = dir.appendingPathComponent("config.json").path
        guard FileManager.default.fileExists(atPath: configPath) else { throw LLMError.missingFile(configPath) }
        let config = try LlamaConfig.load(path: configPath)
        let generation = try GenerationConfig.load(path: dir.appendingPathComponent("generation_config.json").path)
        let tokenizer = try Tokenizer.load(directory: directory)
        let archive = try SafetensorsArchive.open(directory: directory)
        return try LlamaModel(
            config: config, tokenizer: tokenizer, generation: generation, archive: archive, directory: directory,
            threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    init(
        config c: LlamaConfig, tokenizer: Tokenizer, generation: GenerationConfig, archive: SafetensorsArchive,
        directory: String, threads: Int
    ) throws {
        self.config = c
        self.tokenizer = tokenizer
        self.generationDefaults = generation.defaults
        self.directory = directory
        self.threads = max(1, threads)
        pool = threads > 1 ? WorkerPool(workers: threads - 1) : nil
        let qDim = c.numHeads * c.headDim
        let kvDim = c.numKVHeads * c.headDim
        func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> WeightMatrix {
            WeightMatrix(try archive.tensor(name, shape: [rows, cols]))
        }
        func vector(_ name: String, _ n: Int) throws -> FloatStorage {
            FloatStorage(try archive.tensor(name, shape: [n]).floats())
        }
        let embedding = try matrix("model.embed_tokens.weight", c.vocabSize, c.hiddenSize)
        var layers: [LayerWeights] = []
        for l in 0..<c.numLayers {
            let p = "model.layers.\(l)."
            layers.append(
                LayerWeights(
                    attnNorm: try vector(p + "input_layernorm.weight", c.hiddenSize),
                    q: try matrix(p + "self_attn.q_proj.weight", qDim, c.hiddenSize),
                    k: try matrix(p + "self_attn.k_proj.weight", kvDim, c.hiddenSize),
                    v: try matrix(p + "self_attn.v_proj.weight", kvDim, c.hiddenSize),
                    o: try matrix(p + "self_attn.o_proj.weight", c.hiddenSize, qDim),
                    ffnNorm: try vector(p + "post_attention_layernorm.weight", c.hiddenSize),
                    gate: try matrix(p + "mlp.gate_proj.weight", c.intermediateSize, c.hiddenSize),
                    up: try matrix(p + "mlp.up_proj.weight", c.intermediateSize, c.hiddenSize),
                    down: try matrix(p + "mlp.down_proj.weight", c.hiddenSize, c.intermediateSize)))
        }
        for name in archive.tensors.keys where name.contains("bias") && name.hasPrefix("model.layers.") {
            throw LLMError.unsupportedConfiguration("tensor \(name): attention/MLP biases are not supported")
        }
        finalNorm = try vector("model.norm.weight", c.hiddenSize)
        let head = c.tieWordEmbeddings ? embedding : try matrix("lm_head.weight", c.vocabSize, c.hiddenSize)
        // Copy the matrices into huge pages (see WeightArena) unless they would take over a quarter of RAM.
        var all = [embedding, head]
        for w in layers { all += [w.q, w.k, w.v, w.o, w.gate, w.up, w.down] }
        let packed = WeightArena.pack(all, limit: Int(min(ProcessInfo.processInfo.physicalMemory / 4, UInt64(Int.max))))
        self.embedding = packed[0]
        lmHead = packed[1]
        self.layers = layers.indices.map { l in
            let m = packed[2 + 7 * l..<2 + 7 * l + 7]
            let b = m.startIndex
            return LayerWeights(
                attnNorm: layers[l].attnNorm, q: m[b], k: m[b + 1], v: m[b + 2], o: m[b + 3], ffnNorm: layers[l].ffnNorm,
                gate: m[b + 4], up: m[b + 5], down: m[b + 6])
        }
        weightDType = self.layers.first?.q.dtype ?? embedding.dtype
        weightBytesPerToken =
            self.layers.reduce(0) { $0 + $1.q.byteCount + $1.k.byteCount + $1.v.byteCount + $1.o.byteCount + $1.gate.byteCount + $1.up.byteCount + $1.down.byteCount }
            + lmHead.byteCount
        var eos = Set(c.eosTokenIDs)
        eos.formUnion(generation.eosTokenIDs)
        if let e = tokenizer.eosTokenID { eos.insert(e) }
        eosTokenIDs = eos
    }

    deinit { pool?.shutdown() }

    /// The BOS id to prepend when the tokenizer's post-processor does not add one.
    package var bosTokenID: Int? { config.bosTokenID ?? tokenizer.bosTokenID }

    /// Logits for the position after `tokens` (runs a fresh forward pass over all of them).
    public func logits(for tokens: [Int]) throws -> [Float] {
        let state = try InferenceState(model: self, capacity: tokens.count)
        let out = try state.forward(tokens, wantLogits: true)
        return Array(UnsafeBufferPointer(start: out, count: config.vocabSize))
    }
}
