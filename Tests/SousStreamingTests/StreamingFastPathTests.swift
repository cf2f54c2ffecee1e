import Foundation
import SousStreaming
import Testing

// The TGI token-line fast path and the LMI unescaper's block decoder (added for the stream benchmark)
// must read exactly what the general code reads, at every split of the input.

/// A TGI token line (without `data:`) in TGI's exact wire shape.
func tgiTokenLine(index: String? = "7", id: String = "1234", text: String, logprob: String = "-0.25", special: String = "false") -> String {
    let head = index.map { "{\"index\":\($0),\"token\":" } ?? "{\"token\":"
    return head + "{\"id\":\(id),\"text\":\(text),\"logprob\":\(logprob),\"special\":\(special)},\"generated_text\":null,\"details\":null}"
}

@Suite("Streaming fast paths")
struct StreamingFastPathTests {
    /// Lines the fast path reads and near misses it must leave to the general reader.
    static let lines: [String] = [
        tgiTokenLine(text: jsonString(" hello")),
        tgiTokenLine(index: nil, text: jsonString(" no index")),
        tgiTokenLine(text: jsonString("\"quoted\" back\\slash\n\ttab")),
        tgiTokenLine(text: #""\ud83d\ude80 \u00e9\u65e5 \/ \b\f\r""#),
        tgiTokenLine(text: #""lone \ud83d high and \ude80 low \q bad""#),
        tgiTokenLine(text: jsonString("")),
        tgiTokenLine(text: jsonString("</s>"), special: "true"),
        tgiTokenLine(id: "-1", text: jsonString("negative id")),
        tgiTokenLine(id: "1234567890123456789", text: jsonString("19-digit id")),
        tgiTokenLine(id: "12.5", text: jsonString("fraction id")),
        tgiTokenLine(id: "1e3", text: jsonString("exponent id")),
        tgiTokenLine(index: "1.5", text: jsonString("fraction index")),
        tgiTokenLine(text: jsonString("null logprob"), logprob: "null"),
        tgiTokenLine(text: jsonString("exp logprob"), logprob: "-1.5e-3"),
        tgiTokenLine(text: jsonString("null special"), special: "null"),
        tgiTokenLine(text: jsonString("bad special"), special: "truex"),
        tgiTokenLine(text: jsonString("trailing blank")) + " ",
        tgiTokenLine(text: jsonString("spaced")).replacingOccurrences(of: "\"text\":", with: "\"text\": "),
        tgiTokenLine(text: jsonString("top tokens")).replacingOccurrences(of: ",\"generated_text\"", with: ",\"top_tokens\":[],\"generated_text\""),
        tgiTokenLine(text: jsonString("with final")).replacingOccurrences(of: "\"details\":null", with: "\"details\":{\"finish_reason\":\"length\",\"generated_tokens\":3}"),
        tgiTokenLine(text: jsonString("cut")).replacingOccurrences(of: ",\"details\":null}", with: ",\"details\":null"),
        tgiTokenLine(text: "\"unterminated"),
    ]

    @Test("TGI fast path reads every line exactly as the general reader does, at every split")
    func tgiFastPathMatchesGeneral() {
        for line in Self.lines {
            // `data:  {…}` (two spaces) starts the body with a blank, which the fast path never takes.
            // (Error messages quote the body, blank included: drop it for the comparison.)
            let general = run(TGIStreamParser(), pieces: [Array("data:  \(line)\n\n".utf8)]).map { e -> StreamEvent in
                if case .error(let m) = e { return .error(message: m.replacingOccurrences(of: ":  {", with: ": {")) }
                return e
            }
            #expect(!general.isEmpty, "\(line)")
            let bytes = Array("data:\(line)\n\n".utf8)
            for cut in 0...bytes.count {
                let events = run(TGIStreamParser(), pieces: [Array(bytes[0..<cut]), Array(bytes[cut...])])
                #expect(events == general, "\(line) split at \(cut)")
            }
            #expect(run(TGIStreamParser(), pieces: bytes.map { [$0] }) == general, "\(line) byte by byte")
        }
        // The values the fast path reads.
        let events = run(TGIStreamParser(), pieces: [Array("data:\(Self.lines[3])\n\n".utf8)])
        #expect(events == [.token(text: "🚀 é日 / \u{8}\u{C}\r", id: 1234, special: false)])
        #expect(run(TGIStreamParser(), pieces: [Array("data:\(Self.lines[6])\n".utf8)]) == [.token(text: "</s>", id: 1234, special: true)])
        #expect(run(TGIStreamParser(), pieces: [Array("data:\(Self.lines[7])\n".utf8)]) == [.token(text: "negative id", id: -1, special: false)])
    }

    @Test("LMI unescaper: long runs past its staging block, every escape kind, split at every offset")
    func lmiLongEscapedRuns() throws {
        // More than 512 decoded bytes in one part, with escapes straddling the block boundary.
        var text = ""
        for i in 0..<120 {
            text += ["é", "日本", "🚀", "\n", "\"", "\\", "/", "\t", "plain ascii words ", "\u{8}", "\u{C}", "\r", "👩‍💻"][i % 13]
        }
        for ascii in [true, false] {
            let body = String(jsonString(text, asciiOnly: ascii).dropFirst().dropLast())
            // JSONSerialization is the reference for valid JSON strings.
            let decoded = try #require(
                try JSONSerialization.jsonObject(with: Data("[\"\(body)\"]".utf8)) as? [String])
            #expect(decoded == [text])
            let doc = Array("{\"generated_text\": \"\(body)\"}".utf8)
            // Whole, every two-piece split and byte by byte (checkAllSplits); escapes use `\/` too.
            checkAllSplits({ LMIStreamParser() }, doc, expectText: text)
            let slashed = Array("{\"generated_text\": \"\(body.replacingOccurrences(of: "/", with: "\\/"))\"}".utf8)
            checkAllSplits({ LMIStreamParser() }, slashed, expectText: text)
        }
        // Invalid escapes at the block boundary become U+FFFD exactly as when cut into small parts.
        let bad = String(repeating: "x", count: 505) + #"\q\u12zz\ud83d\u0041\ude80"# + String(repeating: "y", count: 600)
        let want = String(repeating: "x", count: 505) + "\u{FFFD}\u{FFFD}zz\u{FFFD}A\u{FFFD}" + String(repeating: "y", count: 600)
        checkAllSplits({ LMIStreamParser() }, Array("{\"generated_text\": \"\(bad)\"}".utf8), expectText: want)
        // Hex digits of both cases, and the bytes next to the digit and letter ranges, which are not digits.
        let hex = #"\u00C0\u00c0\u00F9\u00f9\u00Eg\u00:0\u00@0\u00G0\u00`0\u00/0\u00e9"#
        let hexWant = "ÀÀùù\u{FFFD}g\u{FFFD}:0\u{FFFD}@0\u{FFFD}G0\u{FFFD}`0\u{FFFD}/0é"
        checkAllSplits({ LMIStreamParser() }, Array("{\"generated_text\": \"\(hex)\"}".utf8), expectText: hexWant)
        // The closing quote is found by the unescaper: a quote escaped right after a lone high surrogate
        // (`\ud83d\"`) is text wherever the parts are cut; one ending a cut `\u12` escape closes the string.
        checkAllSplits({ LMIStreamParser() }, Array(#"{"generated_text": "a\ud83d\"b\\"}"#.utf8), expectText: "a\u{FFFD}\"b\\") { events in
            #expect(events.last == .final(generatedText: nil, details: nil))
        }
        checkAllSplits({ LMIStreamParser() }, Array(#"{"generated_text": "a\u12"}"#.utf8), expectText: "a\u{FFFD}") { events in
            #expect(events.last == .final(generatedText: nil, details: nil))
        }
    }
}
