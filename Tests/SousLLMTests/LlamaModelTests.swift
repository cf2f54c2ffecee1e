import Foundation
@testable import SousLLM
import SousStreaming
import SousTestSupport
import Testing

/// Random-weight checkpoints written by Tests/python/llm_make_model.py (numpy), checked against the
/// script's float64 numpy reference forward pass.
@Suite("Llama runtime: generated checkpoints")
struct LlamaModelTests {
    struct Reference: Decodable {
        let prompt: [Int]
        let last_logits: [Double]
        let greedy: [Int]
    }

    /// Writes a checkpoint into a fresh temporary directory.
    static func make(_ args: [String]) throws -> URL {
        let dir = try TestPaths.makeTemporaryDirectory("sous-model")
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/llm_make_model.py").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [TestPaths.python, script, dir.path] + args
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(p.terminationStatus == 0, "llm_make_model.py failed: \(message)")
        return dir
    }

    static func reference(_ dir: URL) throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("reference.json")))
    }

    static func expectClose(_ a: [Float], _ b: [Double], tolerance: Double, _ what: String) {
        #expect(a.count == b.count)
        var worst = 0.0
        for (x, y) in zip(a, b) { worst = max(worst, abs(Double(x) - y)) }
        #expect(worst < tolerance, "\(what): max |Δlogit| = \(worst)")
    }

    @Test("bf16, tied embeddings, GQA, rope_theta 1e5, transformers-5 config: matches the numpy reference")
    func bf16Reference() throws {
        let dir = try Self.make(["--dtype", "bf16", "--tie", "--gqa", "--rope-theta", "100000", "--new-config", "--reference"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try LlamaModel.load(directory: dir.path, threads: 2)
        #expect(model.config.ropeTheta == 100_000)
        #expect(model.config.numKVHeads == 2)
        #expect(model.config.numHeads == 8)
        #expect(model.config.tieWordEmbeddings)
        #expect(model.config.dtype == "bfloat16")
        #expect(model.weightDType == .bf16)
        #expect(model.generationDefaults.maxNewTokens == 32)
        let defaults = SamplingParameters(model.generationDefaults)
        #expect(defaults.maxNewTokens == 32)
        #expect(!defaults.isSampling)
        let ref = try Self.reference(dir)
        Self.expectClose(try model.logits(for: ref.prompt), ref.last_logits, tolerance: 2e-3, "bf16")
        let result = try model.generate(tokens: ref.prompt, parameters: .greedy(maxNewTokens: ref.greedy.count))
        #expect(result.tokenIDs == ref.greedy)
    }

    @Test("f32 and f16 storage match their references; f32 holding bf16-rounded weights equals the bf16 run")
    func dtypesAgree() throws {
        let f32 = try Self.make(["--gqa", "--tie", "--round-bf16", "--reference"])
        let bf16 = try Self.make(["--gqa", "--tie", "--dtype", "bf16"])
        let f16 = try Self.make(["--gqa", "--dtype", "f16", "--reference"])
        defer { for d in [f32, bf16, f16] { try? FileManager.default.removeItem(at: d) } }
        let ref = try Self.reference(f32)
        let a = try LlamaModel.load(directory: f32.path, threads: 1)
        let b = try LlamaModel.load(directory: bf16.path, threads: 1)
        #expect(a.weightDType == .f32)
        #expect(b.weightDType == .bf16)
        let la = try a.logits(for: ref.prompt)
        let lb = try b.logits(for: ref.prompt)
        Self.expectClose(la, ref.last_logits, tolerance: 2e-3, "f32")
        Self.expectClose(lb, la.map(Double.init), tolerance: 1e-4, "bf16 vs f32")
        let ga = try a.generate(tokens: ref.prompt, parameters: .greedy(maxNewTokens: 8))
        let gb = try b.generate(tokens: ref.prompt, parameters: .greedy(maxNewTokens: 8))
        #expect(ga.tokenIDs == ref.greedy)
        #expect(gb.tokenIDs == ref.greedy)

        let h = try LlamaModel.load(directory: f16.path, threads: 1)
        #expect(h.weightDType == .f16)
        let href = try Self.reference(f16)
        Self.expectClose(try h.logits(for: href.prompt), href.last_logits, tolerance: 2e-3, "f16")
    }

    @Test("a sharded checkpoint (index.json, 3 files) loads and equals the single-file one")
    func sharded() throws {
        let single = try Self.make(["--seed", "7", "--reference"])
        let sharded = try Self.make(["--seed", "7", "--shards", "3"])
        defer { for d in [single, sharded] { try? FileManager.default.removeItem(at: d) } }
        let ref = try Self.reference(single)
        let a = try LlamaModel.load(directory: single.path)
        let b = try LlamaModel.load(directory: sharded.path)
        #expect(a.config.ropeTheta == 10000)
        #expect(!a.config.tieWordEmbeddings)
        #expect(try a.logits(for: ref.prompt) == b.logits(for: ref.prompt))
        Self.expectClose(try b.logits(for: ref.prompt), ref.last_logits, tolerance: 2e-3, "sharded")
    }

    @Test("clear errors for a bad model directory, architecture, tensor, shape and dtype")
    func errors() throws {
        let dir = try Self.make([])
        defer { try? FileManager.default.removeItem(at: dir) }
        let configURL = dir.appendingPathComponent("config.json")
        let original = try Data(contentsOf: configURL)
        func withConfig(_ edit: (inout [String: Any]) -> Void) throws -> any Error {
            var json = try #require(try JSONSerialization.jsonObject(with: original) as? [String: Any])
            edit(&json)
            try JSONSerialization.data(withJSONObject: json).write(to: configURL)
            defer { try? original.write(to: configURL) }
            return try #require(throws: LLMError.self) { try LlamaModel.load(directory: dir.path) }
        }
        #expect(throws: LLMError.modelDirectoryNotFound("/nonexistent/model")) {
            try LlamaModel.load(directory: "/nonexistent/model")
        }
        let arch = try withConfig { $0["model_type"] = "gpt2"; $0["architectures"] = ["GPT2LMHeadModel"] }
        #expect("\(arch)".contains("unsupported model architecture gpt2"))
        let layers = try withConfig { $0["num_hidden_layers"] = 3 }
        #expect(arch is LLMError)
        #expect((layers as? LLMError) == .missingTensor("model.layers.2.input_layernorm.weight"))
        let shape = try withConfig { $0["intermediate_size"] = 161 }
        #expect((shape as? LLMError) == .shapeMismatch(tensor: "model.layers.0.mlp.gate_proj.weight", expected: [161, 64], actual: [160, 64]))
        let rope = try withConfig { $0["rope_scaling"] = ["rope_type": "yarn", "factor": 4.0] }
        #expect("\(rope)".contains("yarn"))
        let missing = try withConfig { $0["hidden_size"] = nil }
        #expect("\(missing)".contains("hidden_size"))

        try FileManager.default.removeItem(at: dir.appendingPathComponent("tokenizer.json"))
        let noTokenizer = try #require(throws: LLMError.self) { try LlamaModel.load(directory: dir.path) }
        #expect("\(noTokenizer)".contains("tokenizer.json"))

        let f64 = try Self.make(["--f64-tensor", "model.norm.weight"])
        defer { try? FileManager.default.removeItem(at: f64) }
        #expect(throws: LLMError.unsupportedDType(tensor: "model.norm.weight", dtype: "F64")) {
            try LlamaModel.load(directory: f64.path)
        }
        // A truncated safetensors file.
        let weights = f64.appendingPathComponent("model.safetensors")
        try Data(try Data(contentsOf: weights).prefix(1000)).write(to: weights)
        let truncated = try #require(throws: LLMError.self) { try LlamaModel.load(directory: f64.path) }
        #expect("\(truncated)".contains("not a valid safetensors file"))
        // A header with a negative dimension.
        let header = Data(#"{"model.norm.weight": {"dtype": "F32", "shape": [-1], "data_offsets": [0, -4]}}"#.utf8)
        var bad = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bad.append(contentsOf: $0) }
        bad.append(header)
        bad.append(Data(count: 16))
        try bad.write(to: weights)
        let negative = try #require(throws: LLMError.self) { try LlamaModel.load(directory: f64.path) }
        #expect("\(negative)".contains("invalid shape"))
    }

    @Test("seeded sampling is deterministic; top-k 1 equals greedy; stop, cancel, EOS and length finish reasons")
    func sampling() throws {
        let dir = try Self.make(["--gqa", "--reference"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try LlamaModel.load(directory: dir.path)
        let prompt = try Self.reference(dir).prompt
        var p = SamplingParameters(temperature: 0.9, topK: 50, topP: 0.9, repetitionPenalty: 1.1, seed: 42, maxNewTokens: 20, doSample: true)
        let a = try model.generate(tokens: prompt, parameters: p)
        let b = try model.generate(tokens: prompt, parameters: p)
        #expect(a.tokenIDs == b.tokenIDs)
        #expect(a.tokenCount == 20 || a.finishReason == .eos)
        var differs = false
        for seed in 1...5 where !differs {
            p.seed = UInt64(seed)
            differs = try model.generate(tokens: prompt, parameters: p).tokenIDs != a.tokenIDs
        }
        #expect(differs)
        let greedy = try model.generate(tokens: prompt, parameters: .greedy(maxNewTokens: 10))
        let topK1 = try model.generate(
            tokens: prompt, parameters: SamplingParameters(temperature: 1.5, topK: 1, seed: 3, maxNewTokens: 10, doSample: true))
        #expect(topK1.tokenIDs == greedy.tokenIDs)
        #expect(greedy.finishReason == .length || greedy.finishReason == .eos)

        // The callback stops generation.
        var seen = 0
        let stopped = try model.generate(tokens: prompt, parameters: .greedy(maxNewTokens: 10)) { _ in
            seen += 1
            return seen < 3
        }
        #expect(stopped.finishReason == .cancelled)
        #expect(stopped.tokenCount == 3)
        // A cancellation flag set before the start.
        let flag = CancellationFlag()
        flag.cancel()
        let cancelled = try model.generate(prompt: "the", parameters: .greedy(maxNewTokens: 10), cancellation: flag)
        #expect(cancelled.finishReason == .cancelled)
        #expect(cancelled.tokenCount == 0)

        // Stop sequences: cut the text before the first occurrence.
        let full = try model.generate(tokens: prompt, parameters: .greedy(maxNewTokens: 12))
        if full.text.count >= 4 {
            let mid = full.text.index(full.text.startIndex, offsetBy: full.text.count / 2)
            let stop = String(full.text[mid...].prefix(2))
            var sp = SamplingParameters.greedy(maxNewTokens: 12)
            sp.stop = ["\u{1}never", stop]
            let s = try model.generate(tokens: prompt, parameters: sp)
            #expect(s.finishReason == .stop)
            #expect(!s.text.contains(stop))
            #expect(full.text.hasPrefix(s.text))
        }

        // Invalid parameters are rejected.
        #expect(throws: LLMError.self) { try model.generate(tokens: prompt, parameters: SamplingParameters(topP: 0)) }
        #expect(throws: LLMError.self) { try model.generate(tokens: [], parameters: .greedy()) }
        #expect(throws: LLMError.self) { try model.generate(tokens: [99999], parameters: .greedy()) }
    }

    @Test("EOS ends generation with finishReason .eos")
    func eos() throws {
        let dir = try Self.make(["--reference"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try LlamaModel.load(directory: dir.path)
        let prompt = try Self.reference(dir).prompt
        // Make the greedy first token count as an end-of-sequence id via a config with that eos id.
        let first = try model.generate(tokens: prompt, parameters: .greedy(maxNewTokens: 1)).tokenIDs[0]
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as? [String: Any])
        json["eos_token_id"] = [2, first]
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("config.json"))
        let eosModel = try LlamaModel.load(directory: dir.path)
        #expect(eosModel.eosTokenIDs.contains(first))
        let r = try eosModel.generate(tokens: prompt, parameters: .greedy(maxNewTokens: 5))
        #expect(r.finishReason == .eos)
        #expect(r.tokenIDs == [first])
        #expect(r.text == "")
    }

    @Test("the AsyncStream variant yields the same tokens and stops when the consumer cancels")
    func asyncStream() async throws {
        let dir = try Self.make(["--gqa"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try LlamaModel.load(directory: dir.path)
        let params = SamplingParameters(temperature: 0.8, seed: 9, maxNewTokens: 12, doSample: true)
        let direct = try model.generate(prompt: "the cat", parameters: params)
        var ids: [Int] = []
        var final: GenerationResult?
        for try await event in model.stream(prompt: "the cat", parameters: params) {
            switch event {
            case .token(let t): ids.append(t.id)
            case .finished(let r): final = r
            }
        }
        #expect(ids == direct.tokenIDs.filter { !model.eosTokenIDs.contains($0) })
        #expect(final?.tokenIDs == direct.tokenIDs)
        #expect(final?.text == direct.text)

        // Breaking out of the loop terminates the stream, which cancels generation.
        var count = 0
        for try await event in model.stream(prompt: "the cat", parameters: .greedy(maxNewTokens: 200)) {
            if case .token = event { count += 1 }
            if count == 2 { break }
        }
        #expect(count == 2)
    }

    @Test("cancelling the surrounding Task stops generation between tokens")
    func taskCancellation() async throws {
        let dir = try Self.make([])
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try LlamaModel.load(directory: dir.path)
        let task = Task { () throws -> GenerationResult in
            var n = 0
            return try model.generate(prompt: "the", parameters: .greedy(maxNewTokens: 100)) { _ in
                n += 1
                if n == 3 { withUnsafeCurrentTask { $0?.cancel() } }
                return true
            }
        }
        let result = try await task.value
        #expect(result.finishReason == .cancelled)
        #expect(result.tokenCount == 3)
    }

    @Test("two threads give bit-identical logits to one (parallel matmul and attention paths)")
    func threadsAgree() throws {
        let dir = try Self.make(["--gqa", "--dtype", "bf16"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let one = try LlamaModel.load(directory: dir.path, threads: 1)
        let two = try LlamaModel.load(directory: dir.path, threads: 2)
        // 120 tokens: prefill chunks of 32 exceed the parallel threshold in the MLP and, later, in attention.
        let prompt = [1] + (0..<119).map { 3 + ($0 * 37) % 300 }
        #expect(try one.logits(for: prompt) == two.logits(for: prompt))
        let a = try one.generate(tokens: prompt, parameters: .greedy(maxNewTokens: 6))
        let b = try two.generate(tokens: prompt, parameters: .greedy(maxNewTokens: 6))
        #expect(a.tokenIDs == b.tokenIDs)
    }

    @Test("repetition penalty divides positive and multiplies negative logits of seen tokens")
    func repetitionPenalty() {
        var logits: [Float] = [2, -2, 4, 1]
        logits.withUnsafeMutableBufferPointer { Sampler.applyRepetitionPenalty($0.baseAddress!, [0, 1], 2) }
        #expect(logits == [1, -4, 4, 1])
    }

    @Test("top-k and top-p restrict the candidates")
    func topKTopP() {
        var logits: [Float] = [0, 3, 2.9, -1, 1]
        var counts = [Int](repeating: 0, count: 5)
        var sampler = Sampler(SamplingParameters(temperature: 1, topK: 2, seed: 1, doSample: true))
        for _ in 0..<400 {
            var l = logits
            counts[l.withUnsafeMutableBufferPointer { sampler.sample($0.baseAddress!, vocab: 5, seen: []) }] += 1
        }
        #expect(counts[0] == 0 && counts[3] == 0 && counts[4] == 0)
        #expect(counts[1] > 100 && counts[2] > 100)
        // top-p 0.3: only the most likely token survives (p ≈ 0.5 ≥ 0.3).
        sampler = Sampler(SamplingParameters(temperature: 1, topP: 0.3, seed: 1, doSample: true))
        for _ in 0..<50 {
            #expect(logits.withUnsafeMutableBufferPointer { sampler.sample($0.baseAddress!, vocab: 5, seen: []) } == 1)
        }
        logits[0] = 0
    }
}
