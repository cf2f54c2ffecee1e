import Foundation
import SousEngine
import SousRecipe
import SousSteps
import SousStreaming
import SousTestSupport
import Testing

/// The six notebook recipes carry each notebook's values: the prompts are byte-identical to what the
/// notebooks' own Python code builds, and the per-size values match the notebooks.
@Suite struct NotebookRecipesTests {
    static let root = TestPaths.packageRoot

    static func load(_ name: String) throws -> (Recipe, ValueMap) {
        let recipe = try RecipeLoader(kinds: BuiltinSteps.registry().schemas).load(path: root.appendingPathComponent("recipes/\(name)").path)
        return (recipe, try recipe.resolveParams(overrides: []))
    }

    /// The notebooks' prompts, built by their own code (Tests/python/notebook_prompts.py).
    static func notebookPrompts() throws -> [String: [String]] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [TestPaths.python, root.appendingPathComponent("Tests/python/notebook_prompts.py").path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String]])
    }

    static let sizes = ["7b", "13b", "70b"]

    @Test("each recipe's two asks render to exactly the notebook's prompts", arguments: ["tgi", "lmi"])
    func promptsAreVerbatim(_ container: String) throws {
        let expected = try #require(try Self.notebookPrompts()[container])
        for size in Self.sizes {
            let (_, params) = try Self.load("llama2-\(size)-\(container).yaml")
            for (i, ask) in ["user_ask_1", "user_ask_2"].enumerated() {
                let system = try #require(params["system_prompt"]?.stringValue)
                let user = try #require(params[ask]?.stringValue)
                let prompt = PromptTemplate.llama2Chat.render([.system(system), .user(user)])
                #expect(prompt == expected[i], "\(size) \(container) \(ask)")
            }
        }
    }

    @Test func perSizeValuesMatchTheNotebooks() throws {
        let tgi: [String: (String, Int, Int, String)] = [
            "7b": ("ml.g5.2xlarge", 1, 8192, "Llama-2-7b-chat-hf-streaming"),
            "13b": ("ml.g5.12xlarge", 4, 8192, "Llama-2-13b-chat-hf-tgi-streaming"),
            "70b": ("ml.g5.48xlarge", 8, 32768, "Llama-2-70b-chat-hf-tgi-streaming"),
        ]
        for (size, v) in tgi {
            let (r, p) = try Self.load("llama2-\(size)-tgi.yaml")
            #expect(p["model_id"]?.stringValue == "meta-llama/Llama-2-\(size)-chat-hf")
            #expect(p["instance_type"]?.stringValue == v.0 && p["num_gpus"]?.intValue == v.1)
            #expect(p["max_batch_total_tokens"]?.intValue == v.2 && p["endpoint_base"]?.stringValue == v.3)
            #expect(p["tgi_version"]?.stringValue == "2.0.2" && p["routing_strategy"]?.stringValue == "LEAST_OUTSTANDING_REQUESTS")
            #expect(p["health_check_timeout"]?.intValue == 300 && p["max_input_length"]?.intValue == 2048 && p["max_total_tokens"]?.intValue == 4096)
            #expect(r.steps.map(\.id) == ["preflight", "bucket", "download", "upload_weights", "image", "endpoint", "ask_1", "ask_2", "cleanup", "delete_s3"])
            #expect(p["prefix"]?.stringValue == "hf-llm-tgi/meta-llama/Llama-2-\(size)-chat-hf")
            // The weights come from S3: no token in the model's environment.
            guard case .map(let env, _)? = r.step("endpoint")?.input("env") else { Issue.record("no env"); continue }
            #expect(env.map(\.key) == ["HF_MODEL_ID", "SM_NUM_GPUS", "MAX_INPUT_LENGTH", "MAX_TOTAL_TOKENS", "MAX_BATCH_TOTAL_TOKENS"])
            #expect(env.first?.value.literalValue?.stringValue == "/opt/ml/model")
        }
        let lmi: [String: (String, Int, [String])] = [
            "7b": ("ml.g5.2xlarge", 1, [
                "engine", "option.entryPoint", "option.tensor_parallel_degree", "option.rolling_batch_type", "option.rolling_batch",
                "option.max_rolling_batch_size", "option.model_loading_timeout", "option.model_id", "option.paged_attention",
            ]),
            "13b": ("ml.g5.12xlarge", 4, [
                "engine", "option.entryPoint", "option.tensor_parallel_degree", "option.low_cpu_mem_usage", "option.rolling_batch",
                "option.max_rolling_batch_size", "option.model_loading_timeout", "option.model_id", "option.paged_attention",
            ]),
            "70b": ("ml.g5.48xlarge", 8, [
                "engine", "option.entryPoint", "option.tensor_parallel_degree", "option.rolling_batch", "option.max_rolling_batch_size",
                "option.model_loading_timeout", "option.max_rolling_batch_prefill_tokens", "option.model_id", "option.paged_attention",
            ]),
        ]
        for (size, v) in lmi {
            let (r, p) = try Self.load("llama2-\(size)-lmi.yaml")
            #expect(p["instance_type"]?.stringValue == v.0 && p["tensor_parallel_degree"]?.intValue == v.1)
            #expect(p["code_dir"]?.stringValue == "chat_llama2_\(size)_hf")
            #expect(p["prefix"]?.stringValue == "hf-large-model-djl/meta-llama/Llama-2-\(size)-chat")
            #expect(p["model_base"]?.stringValue == "Llama-2-\(size)-chat-lmi-streaming")
            #expect(p["lmi_framework"]?.stringValue == "djl-lmi" && p["lmi_version"]?.stringValue == "0.28.0")
            #expect(r.steps.first?.id == "preflight" && r.steps.first?.uses == "preflight")
            #expect(Self.propertyKeys(r) == v.2, "\(size)")
            let text = Self.propertyValues(r)
            #expect(text["option.max_rolling_batch_size"] == (size == "7b" ? "16" : "64"))
            #expect(text["option.model_loading_timeout"] == (size == "7b" ? "3600" : "900"))
            if size == "70b" { #expect(text["option.max_rolling_batch_prefill_tokens"] == "16384") }
        }
    }

    /// The keys of the `properties` step's list, in order.
    static func propertyKeys(_ r: Recipe) -> [String] {
        guard case .list(let items, _)? = r.step("properties")?.input("properties") else { return [] }
        return items.compactMap { item in
            guard case .map(let entries, _) = item else { return nil }
            return entries.first?.key
        }
    }

    /// The literal values of the `properties` step's list.
    static func propertyValues(_ r: Recipe) -> [String: String] {
        guard case .list(let items, _)? = r.step("properties")?.input("properties") else { return [:] }
        var out: [String: String] = [:]
        for item in items {
            guard case .map(let entries, _) = item, let e = entries.first, let v = e.value.literalValue else { continue }
            out[e.key] = v.stringValue ?? v.jsonString()
        }
        return out
    }
}
