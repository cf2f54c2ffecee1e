import Foundation
import SousLLM
import SousTestSupport
import Testing

/// stories260K converted to a Hugging Face snapshot, checked against transformers' golden outputs.
/// Skipped when ../shared/models is absent.
@Suite(
    "Llama runtime: stories260K golden outputs",
    .enabled(if: TestPaths.shared("models/stories260K-hf") != nil, "needs ../shared/models/stories260K-hf"))
struct LlamaStoriesTests {
    static let directory = TestPaths.shared("models/stories260K-hf")?.path ?? ""

    struct Golden: Decodable {
        struct Case: Decodable {
            let prompt: String
            let prompt_ids: [Int]
            let greedy_new_ids: [Int]
            let greedy_text: String
            let last_logits_top5: [[Double]]
        }
        struct FromBOS: Decodable { let ids: [Int] }
        let cases: [Case]
        let from_bos_255: FromBOS
        let encodings_without_bos: [String: [Int]]
    }

    static func golden() throws -> Golden {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent("golden.json"))
        return try JSONDecoder().decode(Golden.self, from: data)
    }

    @Test("the tokenizer reproduces the golden encodings")
    func encodings() throws {
        let model = try LlamaModel.load(directory: Self.directory)
        let golden = try Self.golden()
        for (text, ids) in golden.encodings_without_bos {
            #expect(model.tokenizer.encode(text, addSpecialTokens: false) == ids, "\(text.debugDescription)")
            #expect(model.tokenizer.decode(ids) == text, "\(text.debugDescription)")
        }
        for c in golden.cases {
            #expect(model.encodePrompt(c.prompt) == c.prompt_ids)
        }
    }

    @Test("greedy generation and top-5 logits match transformers for every prompt")
    func greedyCases() throws {
        let model = try LlamaModel.load(directory: Self.directory, threads: 1)
        for c in try Self.golden().cases {
            let logits = try model.logits(for: c.prompt_ids)
            let top = logits.enumerated().sorted { $0.element > $1.element }.prefix(5)
            for (got, want) in zip(top, c.last_logits_top5) {
                #expect(got.offset == Int(want[0]))
                #expect(abs(Double(got.element) - want[1]) < 1e-3, "logit \(got.offset): \(got.element) vs \(want[1])")
            }
            var streamed = ""
            let result = try model.generate(
                prompt: c.prompt, parameters: .greedy(maxNewTokens: c.greedy_new_ids.count)
            ) { token in
                streamed += token.text
                return true
            }
            #expect(result.tokenIDs == c.greedy_new_ids)
            #expect(result.text == c.greedy_text)
            #expect(streamed == c.greedy_text)
            #expect(result.promptTokens == c.prompt_ids.count)
            #expect(result.finishReason == .length)
        }
    }

    @Test("255 greedy tokens from BOS match, on two threads")
    func fromBOS() throws {
        let model = try LlamaModel.load(directory: Self.directory, threads: 2)
        let want = try Self.golden().from_bos_255.ids
        let result = try model.generate(tokens: [1], parameters: .greedy(maxNewTokens: want.count))
        #expect(result.tokenIDs == want)
    }
}
