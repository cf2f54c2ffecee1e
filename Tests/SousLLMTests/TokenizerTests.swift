import Foundation
@testable import SousLLM
import SousTestSupport
import Testing

/// Python can import `tokenizers`, which the oracle script needs (SOUS_TEST_DEPS=1 scripts/bootstrap.sh installs it).
private let pythonHasTokenizers = (try? runPython(["-c", "import tokenizers"]).status) == 0

/// Tokenizers built by the Hugging Face `tokenizers` library (Tests/python/llm_tokenizer_oracle.py) are
/// the oracle: our encodings and decodings of ~300 strings must match exactly.
@Suite("Llama runtime: tokenizer.json against the tokenizers library")
struct TokenizerTests {
    struct Oracle {
        let directory: URL
        let variants: [String]
        let cases: [[String: Any]]
    }

    /// Runs the oracle script.
    static func oracle() throws -> Oracle {
        let dir = try TestPaths.makeTemporaryDirectory("sous-tok")
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/llm_tokenizer_oracle.py").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [TestPaths.python, script, dir.path]
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(p.terminationStatus == 0, "oracle script failed: \(message)")
        let data = try Data(contentsOf: dir.appendingPathComponent("cases.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return Oracle(
            directory: dir, variants: try #require(json["variants"] as? [String]),
            cases: try #require(json["cases"] as? [[String: Any]]))
    }

    @Test(
        "encodings and decodings match for SentencePiece (legacy and Metaspace) and byte-level layouts",
        .enabled(if: pythonHasTokenizers, "needs Python's tokenizers package"))
    func matchesOracle() throws {
        let oracle = try Self.oracle()
        defer { try? FileManager.default.removeItem(at: oracle.directory) }
        #expect(oracle.variants.count == 4)
        #expect(oracle.cases.count >= 300)
        for variant in oracle.variants {
            let tok = try Tokenizer(
                tokenizerJSON: oracle.directory.appendingPathComponent(variant).appendingPathComponent("tokenizer.json").path)
            var mismatches = 0
            for c in oracle.cases {
                let text = try #require(c["text"] as? String)
                let want = try #require(c[variant] as? [String: Any])
                let ids = try #require(want["ids"] as? [Int])
                let decoded = try #require(want["decoded"] as? String)
                let got = tok.encode(text)
                if got != ids {
                    mismatches += 1
                    if mismatches <= 5 { Issue.record("\(variant) encode \(text.debugDescription): \(got) != \(ids)") }
                }
                let back = tok.decode(ids)
                if back != decoded {
                    mismatches += 1
                    if mismatches <= 5 { Issue.record("\(variant) decode \(text.debugDescription): \(back.debugDescription) != \(decoded.debugDescription)") }
                }
                // Streaming decode, one token at a time, gives the same text.
                var stream = tok.makeStreamingDecoder()
                var streamed = ""
                for id in ids { streamed += stream.append(id) }
                streamed += stream.flush()
                #expect(streamed == decoded, "\(variant) streaming \(text.debugDescription)")
            }
            #expect(mismatches == 0, "\(variant): \(mismatches) mismatches")
        }
    }

    @Test(
        "merges given as strings and as pairs load to the same tokenizer",
        .enabled(if: pythonHasTokenizers, "needs Python's tokenizers package"))
    func mergeForms() throws {
        let oracle = try Self.oracle()
        defer { try? FileManager.default.removeItem(at: oracle.directory) }
        let path = oracle.directory.appendingPathComponent("sp_legacy/tokenizer.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as? [String: Any])
        var model = try #require(json["model"] as? [String: Any])
        // The library saves merges as ["a", "b"] pairs; Llama 2's files use "a b" strings.
        let merges = try #require(model["merges"] as? [[String]])
        #expect(!merges.isEmpty)
        model["merges"] = merges.map { $0.joined(separator: " ") }
        json["model"] = model
        let strings = oracle.directory.appendingPathComponent("strings.json")
        try JSONSerialization.data(withJSONObject: json).write(to: strings)
        let a = try Tokenizer(tokenizerJSON: path.path)
        let b = try Tokenizer(tokenizerJSON: strings.path)
        for text in ["Hello world", "the little girl named Lily 🦙", "  two  spaces", "[INST] café 1,000,000 [/INST]", "👍🏽 e\u{301}"] {
            #expect(a.encode(text).count > 2)
            #expect(a.encode(text) == b.encode(text))
        }
    }

    @Test(
        "the streaming decoder holds an incomplete UTF-8 character until its last byte",
        .enabled(if: pythonHasTokenizers, "needs Python's tokenizers package"))
    func streamingHoldsPartialCharacters() throws {
        let oracle = try Self.oracle()
        defer { try? FileManager.default.removeItem(at: oracle.directory) }
        for variant in ["sp_legacy", "byte_level"] {
            let tok = try Tokenizer(
                tokenizerJSON: oracle.directory.appendingPathComponent(variant).appendingPathComponent("tokenizer.json").path)
            for text in ["🦙", "a😀b", "日本語", "é🦙ß", "x👍🏽y"] {
                let ids = tok.encode(text, addSpecialTokens: false)
                var d = tok.makeStreamingDecoder()
                var out = ""
                for id in ids {
                    let piece = d.append(id)
                    #expect(!piece.unicodeScalars.contains("\u{FFFD}"), "\(variant) \(text): replacement character emitted")
                    out += piece
                }
                #expect(d.flush() == "")
                #expect(out == text, "\(variant): \(out.debugDescription) != \(text.debugDescription)")
            }
        }
    }

    @Test("incomplete-suffix detection at every byte offset of multi-byte text")
    func incompleteSuffixAtEveryOffset() {
        let bytes = Array("a€🦙ß日".utf8)
        for cut in 0...bytes.count {
            let prefix = Array(bytes[..<cut])
            let keep = StreamingDecoder.incompleteSuffixLength(prefix)
            let emitted = Array(prefix[..<(prefix.count - keep)])
            // What is emitted is always whole characters, and the held bytes start a character.
            #expect(String(validating: emitted, as: UTF8.self) != nil, "cut \(cut)")
            #expect(keep < 4)
            let whole = String(decoding: emitted, as: UTF8.self)
            #expect("a€🦙ß日".hasPrefix(whole))
        }
    }

    @Test("a malformed tokenizer.json gives a clear error")
    func malformed() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-tok-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tokenizer.json")
        try Data(#"{"model": {"type": "WordPiece", "vocab": {}}}"#.utf8).write(to: path)
        #expect(throws: LLMError.invalidTokenizer("model type WordPiece is not supported (BPE only)")) {
            try Tokenizer(tokenizerJSON: path.path)
        }
        try Data(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}"#.utf8).write(to: path)
        #expect(throws: LLMError.self) { try Tokenizer(tokenizerJSON: path.path) }
        try Data("not json".utf8).write(to: path)
        #expect(throws: LLMError.self) { try Tokenizer(tokenizerJSON: path.path) }
    }
}
