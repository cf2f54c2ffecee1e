public import SousStreaming

/// Deterministic synthetic container outputs for benchmarks and tests (TGI SSE, LMI JSON document,
/// JSON Lines), built from a seeded token stream with ASCII, accents, CJK, emoji, quotes and newlines.
/// TGI and JSON Lines carry raw UTF-8; the LMI document is ASCII-escaped (`\uXXXX`) as LMI 0.25 writes it.
public enum SyntheticStream {
    static let vocabulary: [String] = [
        " the", " AnyCloud", " Internet", " service", " is", " fast", ",", ".", " and", " reliable", " —", " café",
        " 日本語", " 🚀", " \"EARLYB1RD\"", "\n", "\n\n", " Dear", " Alice", " 20%", " off", " months", " back\\slash",
        " emoji 😀", " stream", "ing", " tokens", " über", " naïve", " price", ":", " offer", "!", " Thank", " you",
    ]

    /// Calls `emit` with chunks of container output totalling about `approximateBytes`, and returns the
    /// printable text's byte count and the number of tokens.
    @discardableResult
    public static func generate(
        format: StreamFormat, approximateBytes: Int, seed: UInt64 = 1, emit: ([UInt8]) throws -> Void
    ) rethrows -> (textBytes: Int, tokens: Int) {
        var rng = seed &+ 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: rng >> 33)
        }
        var written = 0
        var textBytes = 0
        var tokens = 0
        var chunk: [UInt8] = []
        chunk.reserveCapacity(1 << 16)
        /// JSON string body; `asciiOnly` writes non-ASCII as `\uXXXX` (Python's ensure_ascii, as LMI 0.25 does).
        func escaped(_ s: String, asciiOnly: Bool = false) -> String {
            var o = ""
            for u in s.unicodeScalars {
                switch u {
                case "\"": o += "\\\""
                case "\\": o += "\\\\"
                case "\n": o += "\\n"
                default:
                    if asciiOnly && u.value > 0x7E {
                        for unit in String(u).utf16 {
                            let h = String(unit, radix: 16)
                            o += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                        }
                    } else {
                        o.unicodeScalars.append(u)
                    }
                }
            }
            return o
        }
        if format == .lmi { chunk += Array("{\"generated_text\": \"".utf8) }
        while written + chunk.count < approximateBytes {
            let t = vocabulary[next() % vocabulary.count]
            tokens += 1
            textBytes += t.utf8.count
            switch format {
            case .lmi:
                chunk += Array(escaped(t, asciiOnly: true).utf8)
            case .jsonlines:
                chunk += Array("{\"token\": {\"id\": \(next() % 32000), \"text\": \"\(escaped(t))\", \"log_prob\": -0.25}}\n".utf8)
            case .raw:
                chunk += Array(t.utf8)
            case .tgi, .auto:
                chunk += Array(
                    "data:{\"index\":\(tokens),\"token\":{\"id\":\(next() % 32000),\"text\":\"\(escaped(t))\",\"logprob\":-0.\(next() % 1000),\"special\":false},\"generated_text\":null,\"details\":null}\n\n"
                        .utf8)
            }
            if chunk.count >= 1 << 16 {
                written += chunk.count
                try emit(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        switch format {
        case .lmi: chunk += Array("\"}".utf8)
        case .tgi, .auto:
            chunk += Array(
                "data:{\"index\":\(tokens + 1),\"token\":{\"id\":2,\"text\":\"</s>\",\"logprob\":-0.01,\"special\":true},\"generated_text\":null,\"details\":{\"finish_reason\":\"eos_token\",\"generated_tokens\":\(tokens + 1),\"seed\":null}}\n\n"
                    .utf8)
        default: break
        }
        if !chunk.isEmpty { try emit(chunk) }
        return (textBytes, tokens)
    }
}
