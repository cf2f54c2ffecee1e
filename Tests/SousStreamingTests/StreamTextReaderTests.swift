import Foundation
import SousStreaming
import Testing

/// `StreamTextReader` (what `sous invoke` reads streams with) must see exactly what the per-token event API
/// sees — text, printable token count, special last token, final event, first error — at every split.
@Suite struct StreamTextReaderTests {
    static let cases: [(StreamFormat, String)] = [
        (.tgi, """
            data:{"token": {"id": 1, "text": " Hé", "special": false, "logprob": -0.1}}

            : keep-alive

            data: {"token": {"id": 2, "text": "llo \\u65e5\\u672c 🚀", "special": false}}

            data:{"token": {"id": 2, "text": "</s>", "special": true}, "generated_text": " Héllo 日本 🚀", "details": {"finish_reason": "eos_token", "generated_tokens": 3}}

            """),
        (.lmi, #"{"generated_text": "Dear \"Alice\",\n\ud83d\ude00 caf\u00e9 \\ done"}"#),
        (.jsonlines, """
            {"token": {"id": 5, "text": "a", "special": false}}
            {"token": {"id": 6, "text": "", "special": false}}
            {"error": "CUDA out of memory", "error_type": "generation"}
            {"token": {"id": 7, "text": "b", "special": false}}
            """),
    ]

    @Test func readerMatchesTheEventAPIAtEverySplit() {
        for (format, body) in Self.cases {
            let bytes = Array(body.utf8)
            for cut in 0...bytes.count {
                // The reference: the per-token event API, fed the same two pieces.
                var parser = AnyStreamParser(format: format)
                var events = parser.feed(Array(bytes[..<cut]))
                events += parser.feed(Array(bytes[cut...]))
                events += parser.finish()
                var text = "", tokens = 0, lastSpecial = false, final: String?, firstError: String?
                for e in events {
                    switch e {
                    case .token(let t, _, let special):
                        lastSpecial = special
                        if !special { tokens += 1; text += t }
                    case .final(let g, _): final = g
                    case .error(let m): if firstError == nil { firstError = m }
                    }
                }
                #expect(!text.isEmpty, "\(format)")

                var reader = StreamTextReader(format: format)
                var got = ""
                bytes[..<cut].withUnsafeBytes { reader.feed($0) }
                got += reader.takeText() ?? ""
                bytes[cut...].withUnsafeBytes { reader.feed($0) }
                reader.finish()
                got += reader.takeText() ?? ""
                #expect(reader.takeText() == nil)
                #expect(got == text, "\(format) cut \(cut)")
                #expect(reader.tokens == tokens, "\(format) cut \(cut): \(reader.tokens) vs \(tokens)")
                #expect(reader.lastWasSpecial == lastSpecial, "\(format) cut \(cut)")
                #expect(reader.finalText == final && reader.firstError == firstError, "\(format) cut \(cut)")
            }
        }
    }
}
