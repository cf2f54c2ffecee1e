import Foundation
import SousStreaming
import SousTestSupport
import Testing

// Recordings are generated here from token lists, in each container's exact wire shape
// (protocols.md §4.2, §5.1–5.3), then cut at every offset.

/// JSON string literal as serde (TGI) or Python `json.dumps(ensure_ascii=...)` (LMI) writes it.
func jsonString(_ s: String, asciiOnly: Bool = false) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 || (asciiOnly && u.value > 0x7E) {
                for unit in String(u).utf16 { out += String(format: "\\u%04x", unit) }
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

let sampleTokens = [
    "Subject", ":", " Introducing", " Any", "Cloud", " 🚀", "\n\n", "Dear", " Alice", ",", " \"quoted\"", " back\\slash",
    "\ttab", " café", " 日本語", " 👩‍💻", " done", ".",
]

/// TGI SSE recording: `data:{json}\n\n` per token, a keep-alive comment, a final `</s>` special token
/// carrying generated_text and details.
func tgiRecording(_ tokens: [String], space: Bool = false, finalNewline: Bool = true, keepAlive: Bool = true) -> String {
    var s = ""
    let prefix = space ? "data: " : "data:"
    for (i, t) in tokens.enumerated() {
        s += "\(prefix){\"index\":\(i + 1),\"token\":{\"id\":\(1000 + i),\"text\":\(jsonString(t)),\"logprob\":-0.5,\"special\":false},\"generated_text\":null,\"details\":null}\n\n"
        if keepAlive && i == 3 { s += ":\n\n: keep-alive\n\n" }
    }
    let full = tokens.joined()
    s += "\(prefix){\"index\":\(tokens.count + 1),\"token\":{\"id\":2,\"text\":\"</s>\",\"logprob\":-0.01,\"special\":true},\"generated_text\":\(jsonString(full)),\"details\":{\"finish_reason\":\"eos_token\",\"generated_tokens\":\(tokens.count + 1),\"seed\":null}}"
    s += finalNewline ? "\n\n" : ""
    return s
}

/// LMI default `json` formatter: `{"generated_text": "` + escaped tokens + tail.
func lmiRecording(_ tokens: [String], asciiOnly: Bool, details: Bool = false) -> [String] {
    var parts = ["{\"generated_text\": \""]
    for t in tokens { parts.append(String(jsonString(t, asciiOnly: asciiOnly).dropFirst().dropLast())) }
    parts.append(details ? "\", \"details\": {\"finish_reason\": \"length\", \"generated_tokens\": \(tokens.count), \"inputs\": \"hi\"}}" : "\"}")
    return parts
}

/// LMI ≥ 0.26 JSON Lines.
func jsonLinesRecording(_ tokens: [String]) -> String {
    var s = ""
    for (i, t) in tokens.enumerated() {
        s += "{\"token\": {\"id\": \(100 + i), \"text\": \(jsonString(t)), \"log_prob\": -0.1}"
        if i == tokens.count - 1 {
            s += ", \"generated_text\": \(jsonString(tokens.joined())), \"details\": {\"finish_reason\": \"length\", \"generated_tokens\": \(tokens.count), \"inputs\": \"x\"}"
        }
        s += "}\n"
    }
    return s
}

func run<P: StreamParser>(_ parser: P, pieces: [[UInt8]]) -> [StreamEvent] {
    var p = parser
    var events: [StreamEvent] = []
    for piece in pieces { events += p.feed(piece) }
    events += p.finish()
    return events
}

/// Checks the parser at every two-piece split, every three-piece split around a moving window, and byte by byte.
func checkAllSplits<P: StreamParser>(
    _ make: () -> P, _ bytes: [UInt8], expectText: String, sourceLocation: SourceLocation = #_sourceLocation,
    check: ([StreamEvent]) -> Void = { _ in }
) {
    for cut in 0...bytes.count {
        let events = run(make(), pieces: [Array(bytes[0..<cut]), Array(bytes[cut...])])
        #expect(printableText(events) == expectText, "split at \(cut)", sourceLocation: sourceLocation)
        check(events)
    }
    let byteByByte = run(make(), pieces: bytes.map { [$0] })
    #expect(printableText(byteByByte) == expectText, "byte by byte", sourceLocation: sourceLocation)
    check(byteByByte)
    var rng = SplitMix(seed: 99)
    for _ in 0..<50 {
        var pieces: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            let n = min(bytes.count - i, Int(rng.next() % 9))
            pieces.append(Array(bytes[i..<i + n]))
            i += n
        }
        #expect(printableText(run(make(), pieces: pieces)) == expectText, "random split", sourceLocation: sourceLocation)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Streaming parsers")
struct StreamingParserTests {
    let expected = sampleTokens.joined()

    @Test("TGI SSE at every split: tokens, special </s> hidden, keep-alives skipped, final recorded")
    func tgiEverySplit() {
        for space in [false, true] {
            let bytes = Array(tgiRecording(sampleTokens, space: space).utf8)
            checkAllSplits({ TGIStreamParser() }, bytes, expectText: expected) { events in
                #expect(events.last == .final(generatedText: expected, details: StreamDetails(finishReason: "eos_token", generatedTokens: sampleTokens.count + 1)))
                #expect(events.contains(.token(text: "</s>", id: 2, special: true)))
                #expect(!events.contains { if case .error = $0 { true } else { false } })
            }
        }
        let events = run(TGIStreamParser(), pieces: [Array(tgiRecording(sampleTokens).utf8)])
        #expect(events.first == .token(text: "Subject", id: 1000, special: false))
    }

    @Test("TGI stream without a final newline ends cleanly (the notebook LineIterator hangs here)")
    func tgiNoFinalNewline() {
        let bytes = Array(tgiRecording(sampleTokens, finalNewline: false).utf8)
        checkAllSplits({ TGIStreamParser() }, bytes, expectText: expected) { events in
            #expect(events.last.map { if case .final = $0 { true } else { false } } == true)
        }
        // Same through the auto parser with the SageMaker content type.
        let auto = run(AnyStreamParser(format: .auto, contentType: "text/event-stream"), pieces: [bytes])
        #expect(printableText(auto) == expected)
    }

    @Test("TGI error event and non-streaming JSON array")
    func tgiErrorAndArray() {
        let err = "data:{\"index\":1,\"token\":{\"id\":5,\"text\":\"Hi\",\"logprob\":-1,\"special\":false},\"generated_text\":null,\"details\":null}\n\ndata:{\"error\":\"Input validation error: `top_p` must be > 0.0 and < 1.0\",\"error_type\":\"validation\"}\n\n"
        let events = run(TGIStreamParser(), pieces: [Array(err.utf8)])
        #expect(events == [
            .token(text: "Hi", id: 5, special: false),
            .error(message: "Input validation error: `top_p` must be > 0.0 and < 1.0 (validation)"),
        ])
        let array = Array("[{\"generated_text\":\"Hello \\\"world\\\" 🌍\",\"details\":{\"finish_reason\":\"length\",\"generated_tokens\":4,\"seed\":null}}]".utf8)
        checkAllSplits({ AnyStreamParser(format: .auto, contentType: "application/json") }, array, expectText: "Hello \"world\" 🌍") { events in
            #expect(events.last == .final(generatedText: "Hello \"world\" 🌍", details: StreamDetails(finishReason: "length", generatedTokens: 4)))
        }
    }

    @Test("LMI JSON document at every split: escapes, \\uXXXX surrogate pairs and raw UTF-8 across parts")
    func lmiEverySplit() {
        for ascii in [true, false] {
            for details in [false, true] {
                let bytes = Array(lmiRecording(sampleTokens, asciiOnly: ascii, details: details).joined().utf8)
                checkAllSplits({ LMIStreamParser() }, bytes, expectText: expected) { events in
                    let want = StreamEvent.final(generatedText: nil, details: details ? StreamDetails(finishReason: "length", generatedTokens: sampleTokens.count) : nil)
                    #expect(events.last == want)
                    #expect(!events.contains { if case .error = $0 { true } else { false } })
                }
                checkAllSplits({ AnyStreamParser(format: .auto, contentType: "application/json") }, bytes, expectText: expected)
            }
        }
    }

    @Test("LMI unescaping edge cases: escaped quotes and backslashes before the end, lone surrogates")
    func lmiEdgeCases() {
        let cases: [(String, String)] = [
            (#"{"generated_text": "a\\"}"#, "a\\"),
            (#"{"generated_text": "\\\"x\"\\\\"}"#, #"\"x"\\"#),
            (#"{"generated_text": "x\ud83dy"}"#, "x\u{FFFD}y"),
            (#"{"generated_text": "\ude80z"}"#, "\u{FFFD}z"),
            (#"{"generated_text": "\ud83d\u0041"}"#, "\u{FFFD}A"),
            (#"{"generated_text": "\u00e9\u65e5\/"}"#, "é日/"),
            (#"{"generated_text":"tight"}"#, "tight"),
        ]
        for (doc, want) in cases {
            checkAllSplits({ LMIStreamParser() }, Array(doc.utf8), expectText: want)
        }
    }

    @Test("LMI: first token made of the notebook strip-set characters survives; unclosed document is an error")
    func lmiNotebookBugs() {
        // The notebook's lstrip(b'{"generated_text": "') would eat " great" entirely.
        let doc = lmiRecording([" great", " day"], asciiOnly: false)
        let events = run(LMIStreamParser(), pieces: doc.map { Array($0.utf8) })
        #expect(printableText(events) == " great day")
        let cut = run(LMIStreamParser(), pieces: [Array("{\"generated_text\": \"half".utf8)])
        #expect(printableText(cut) == "half")
        #expect(cut.last == .error(message: "the stream ended inside the generated text (the JSON document was not closed)"))
    }

    @Test("LMI error objects: pretty-printed 0.25 error, 0.28 error line, and a non-LMI document")
    func lmiErrors() {
        let pretty = "{\n  \"code\": 424,\n  \"error\": \"CUDA out of memory\"\n}"
        #expect(run(AnyStreamParser(format: .lmi), pieces: [Array(pretty.utf8)]) == [.error(message: "CUDA out of memory")])
        checkAllSplits({ AnyStreamParser(format: .auto) }, Array(pretty.utf8), expectText: "") { events in
            #expect(events == [.error(message: "CUDA out of memory")])
        }
        let line = "{\"token\": {\"id\": -1, \"text\": \"\", \"log_prob\": -1, \"special_token\": true}, \"generated_text\": \"\", \"details\": {\"finish_reason\": \"error\", \"generated_tokens\": null, \"inputs\": null}}\n"
        let events = run(AnyStreamParser(format: .jsonlines), pieces: [Array(line.utf8)])
        #expect(events.contains(.error(message: "the model stopped with an error (finish_reason \"error\")")))
    }

    @Test("JSON Lines (LMI ≥ 0.26) and 0.25 outputs lines at every split")
    func jsonLines() {
        let bytes = Array(jsonLinesRecording(sampleTokens).utf8)
        checkAllSplits({ AnyStreamParser(format: .jsonlines) }, bytes, expectText: expected) { events in
            #expect(events.last == .final(generatedText: expected, details: StreamDetails(finishReason: "length", generatedTokens: sampleTokens.count)))
        }
        checkAllSplits({ AnyStreamParser(format: .auto) }, bytes, expectText: expected)
        let old = sampleTokens.map { "{\"outputs\": [\(jsonString($0))]}\n" }.joined()
        checkAllSplits({ AnyStreamParser(format: .auto, contentType: "application/jsonlines") }, Array(old.utf8), expectText: expected)
        // Last line without a newline.
        checkAllSplits({ AnyStreamParser(format: .jsonlines) }, Array(old.utf8.dropLast()), expectText: expected)
    }

    @Test("raw text never splits a UTF-8 character; auto picks raw for plain text")
    func raw() {
        let text = "plain 🚀 text, 日本語 and é"
        checkAllSplits({ RawStreamParser() }, Array(text.utf8), expectText: text) { events in
            for e in events {
                if case .token(let t, _, _) = e { #expect(!t.contains("\u{FFFD}")) }
            }
        }
        var auto = AnyStreamParser(format: .auto, contentType: nil)
        _ = auto.feed(Array(text.utf8))
        #expect(auto.resolvedFormat == .raw)
        var sse = AnyStreamParser(format: .auto, contentType: nil)
        _ = sse.feed(Array("  \ndata:".utf8))
        #expect(sse.resolvedFormat == .tgi)
    }

    @Test("malformed lines become errors without swallowing later events")
    func malformed() {
        let s = "data:{\"token\": broken\n\ndata:{\"token\":{\"id\":1,\"text\":\"ok\",\"special\":false}}\n\n"
        let events = run(TGIStreamParser(), pieces: [Array(s.utf8)])
        #expect(printableText(events) == "ok")
        #expect(events.contains { if case .error = $0 { true } else { false } })
        let cut = run(TGIStreamParser(), pieces: [Array("data:{\"token\":{\"id\":1,\"te".utf8)])
        #expect(cut.count == 1)
        #expect(cut.first.map { if case .error = $0 { true } else { false } } == true)
    }
}

@Suite("Stream text sink")
struct StreamTextSinkTests {
    @Test("the sink writes exactly the printable text, at random part splits, for each format")
    func sinkWritesText() throws {
        let expected = sampleTokens.joined()
        let recordings: [(StreamFormat, [UInt8])] = [
            (.tgi, Array(tgiRecording(sampleTokens).utf8)),
            (.lmi, Array(lmiRecording(sampleTokens, asciiOnly: true).joined().utf8)),
            (.lmi, Array(lmiRecording(sampleTokens, asciiOnly: false, details: true).joined().utf8)),
            (.jsonlines, Array(jsonLinesRecording(sampleTokens).utf8)),
            (.raw, Array(expected.utf8)),
        ]
        var rng = SplitMix(seed: 5)
        for (format, bytes) in recordings {
            for flushEach in [true, false] {
                let path = FileManager.default.temporaryDirectory.appendingPathComponent("sink-\(UUID().uuidString)").path
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                try #require(fd >= 0)
                var sink = StreamTextSink(format: format, fileDescriptor: fd, flushEachPart: flushEach)
                var i = 0
                while i < bytes.count {
                    let n = min(bytes.count - i, 1 + Int(rng.next() % 13))
                    _ = Array(bytes[i..<i + n]).withUnsafeBytes { sink.write($0) }
                    i += n
                }
                sink.finish()
                close(fd)
                let written = try String(contentsOfFile: path, encoding: .utf8)
                try? FileManager.default.removeItem(atPath: path)
                #expect(written == expected, "\(format)")
                #expect(sink.errors.isEmpty)
                #expect(sink.sawFinal || format == .jsonlines)
            }
        }
    }
}
