import Foundation
import SousRecipe
import SousSteps
import SousStreaming
import SousTestSupport
import Testing

@Suite("sous bench stream and invocation payloads")
struct InvokeBenchAndPayloadTests {
    @Test("sous bench stream generates TGI/LMI files and decodes them to the generated text; a corrupt file fails")
    func benchStream() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-bench-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try SousBinary.run(
            ["bench", "stream", "--generate", "--mb", "0.3", "--dir", dir.path, "--latency-frames", "300"], cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("SOUS_BENCH ") }
        try #require(lines.count == 2, "\(r.stdout)")
        for (line, format) in zip(lines, ["tgi", "lmi"]) {
            var kv: [String: String] = [:]
            for pair in line.split(separator: " ").dropFirst() {
                let p = pair.split(separator: "=", maxSplits: 1)
                if p.count == 2 { kv[String(p[0])] = String(p[1]) }
            }
            #expect(kv["format"] == format)
            let expected = try String(contentsOfFile: dir.appendingPathComponent("bench-\(format).es.expected").path, encoding: .utf8)
            #expect(kv["textbytes"] == expected.split(separator: " ").first.map(String.init), "\(line)")
            #expect(Double(kv["mbps"] ?? "") ?? 0 > 0)
            #expect(Double(kv["cpumbps"] ?? "") ?? 0 > 0)
            #expect(Double(kv["p99us"] ?? "") != nil)
        }
        // A flipped byte breaks a CRC: reported, exit 1.
        let path = dir.appendingPathComponent("bench-tgi.es")
        var data = try Data(contentsOf: path)
        data[data.count / 2] ^= 0x40
        try data.write(to: path)
        let bad = try SousBinary.run(["bench", "stream", "--file", path.path, "--format", "tgi"], cwd: dir)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("bench-tgi.es"), "\(bad.stderr)")
        #expect(try SousBinary.run(["--help"], cwd: dir).stdout.contains("bench") == false)
    }

    @Test(
        "sous bench llm measures the bundled model and prints JSON; generate has no benchmark flags",
        .enabled(if: FileManager.default.fileExists(atPath: TestPaths.packageRoot.appendingPathComponent("recipes/models/stories260K/config.json").path)))
    func benchLLM() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-bench-llm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = TestPaths.packageRoot.appendingPathComponent("recipes/models/stories260K").path
        let r = try SousBinary.run(
            ["bench", "llm", "--model", model, "--threads", "1", "--prompt-tokens", "8", "--tokens", "16", "--repeats", "1", "--json"],
            cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(doc?["threads"] as? Int == 1)
        #expect(doc?["decodeTokens"] as? Int == 16)
        #expect((doc?["decodeTokensPerSecond"] as? Double ?? 0) > 0)
        #expect((doc?["prefillTokensPerSecond"] as? Double ?? 0) > 0)
        let old = try SousBinary.run(["generate", "--model", model, "--prompt", "x", "--bench"], cwd: dir)
        #expect(old.status != 0 && old.stderr.contains("--bench"), "\(old.stderr)")
    }

    @Test("enum options are parsed by argument-parser: an unknown value is refused with the valid ones, before any call")
    func enumOptions() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-enum-options")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [([String], String)] = [
            (["invoke", "ep", "--prompt", "hi", "--template", "nope"], "'llama-2-chat', 'chatml', 'zephyr' or 'raw'"),
            (["invoke", "ep", "--prompt", "hi", "--format", "xml"], "'tgi', 'lmi', 'jsonlines', 'raw' or 'auto'"),
            (["generate", "--model", dir.path, "--prompt", "hi", "--template", "nope"], "'llama-2-chat'"),
            (["bench", "stream", "--file", "x.es", "--format", "csv"], "'tgi'"),
        ]
        for (args, listed) in cases {
            let r = try SousBinary.run(args, cwd: dir)
            #expect(r.status == 64, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("is invalid for '--") && r.stderr.contains(listed), "\(args): \(r.stderr)")
        }
    }

    @Test("container hints pick the parameter dialect")
    func dialects() throws {
        #expect(try InvocationPayload.dialect(container: "auto") == .tgi)
        #expect(try InvocationPayload.dialect(container: nil) == .tgi)
        #expect(try InvocationPayload.dialect(container: "TGI") == .tgi)
        #expect(try InvocationPayload.dialect(container: "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.3.0-tgi2.0.2-gpu-py310-cu121-ubuntu22.04") == .tgi)
        #expect(try InvocationPayload.dialect(container: "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.25.0-deepspeed0.11.0-cu118") == .lmi(version: "0.25.0"))
        #expect(try InvocationPayload.dialect(container: "763104351884.dkr.ecr.us-west-2.amazonaws.com/djl-inference:0.28.0-lmi10.0.0-cu124") == .lmi(version: "0.28.0"))
        #expect(throws: InvocationInputError.self) { try InvocationPayload.dialect(container: "vllm") }
    }

    @Test("parameters: names and types are checked; TGI and LMI bodies match the notebooks' json.dumps payloads")
    func parameters() throws {
        let map: ValueMap = [
            "max_new_tokens": .int(512), "temperature": .number(0.9), "top_p": .number(0.6), "top_k": .int(50),
            "repetition_penalty": .number(1.03), "do_sample": .bool(true), "stop": .list([.string("</s>")]),
            "return_full_text": .bool(false),
        ]
        let p = try InvocationPayload.parameters(map)
        #expect(p == GenerationParameters.notebookTGI)
        let tgi = try InvocationPayload.body(prompt: "<s>[INST] hi [/INST]", parameters: p, dialect: .tgi, stream: true)
        #expect(String(decoding: tgi, as: UTF8.self) == #"{"inputs": "<s>[INST] hi [/INST]", "parameters": {"do_sample": true, "top_p": 0.6, "temperature": 0.9, "top_k": 50, "max_new_tokens": 512, "repetition_penalty": 1.03, "stop": ["</s>"], "return_full_text": false}, "stream": true}"#)
        let plain = try InvocationPayload.body(prompt: "x", parameters: GenerationParameters(maxNewTokens: 5), dialect: .tgi, stream: false)
        #expect(String(decoding: plain, as: UTF8.self) == #"{"inputs": "x", "parameters": {"max_new_tokens": 5}}"#)
        let lmi = try InvocationPayload.body(prompt: "x", parameters: GenerationParameters(stop: ["</s>"]), dialect: .lmi(version: "0.25.0"), stream: true)
        #expect(String(decoding: lmi, as: UTF8.self) == #"{"inputs": "x", "parameters": {"stop_sequences": ["</s>"]}}"#)
        #expect(try InvocationPayload.parameters(["stop": .string("###")]).stop == ["###"])
        #expect(try InvocationPayload.parameters(["seed": .int(42)]).seed == 42)
        for (bad, message) in [
            (["top_p": Value.string("high")] as ValueMap, "parameter 'top_p' must be a number"),
            (["max_new_tokens": .number(1.5)], "parameter 'max_new_tokens' must be an integer"),
            (["stop": .list([.int(1)])], "parameter 'stop' must be a list of strings"),
            (["seed": .int(-1)], "parameter 'seed' must be an integer of 0 or more"),
            (["temp": .number(1)], "unknown generation parameter 'temp'"),
        ] {
            #expect(throws: InvocationInputError.self) { try InvocationPayload.parameters(bad) }
            do { _ = try InvocationPayload.parameters(bad) } catch { #expect(error.description.contains(message), "\(error)") }
        }
        #expect(throws: GenerationParameterError.self) {
            try InvocationPayload.body(prompt: "x", parameters: GenerationParameters(topP: 1.0), dialect: .tgi, stream: true)
        }
        let msgs = try InvocationPayload.messages([.map(["role": "user", "content": "hi"]), .map(["role": "assistant", "content": "yo"])])
        #expect(msgs == [.user("hi"), .assistant("yo")])
        #expect(throws: InvocationInputError.self) { try InvocationPayload.messages([.map(["role": "bot", "content": "hi"])]) }
        #expect(throws: InvocationInputError.self) { try InvocationPayload.template("llama3") }
        #expect(try InvocationPayload.format("jsonlines") == .jsonlines)
    }
}
