import Foundation
import SousEngine
import Testing

/// A secret is masked in the forms it takes when a program encodes it: base64 (wherever it falls in the
/// encoded text), JSON strings and URLs; and text that arrives in pieces is masked across the cuts.
@Suite struct RedactorTests {
    static let secret = "tok/Sup3r+s3cret\"value\\42 é"

    static func base64(_ s: String, urlSafe: Bool = false) -> String {
        let b = Data(s.utf8).base64EncodedString()
        return urlSafe ? b.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_") : b
    }

    @Test("base64 of a secret is masked at each of the three byte offsets it can have in the encoded text")
    func base64AtEveryOffset() {
        let r = Redactor(secrets: [Self.secret])
        for prefix in ["", "a", "ab", "abc", "abcd"] {
            for suffix in ["", "z", "zy", "zyx"] {
                for urlSafe in [false, true] {
                    let encoded = Self.base64(prefix + Self.secret + suffix, urlSafe: urlSafe)
                    let shown = r.redact("out: " + encoded + "\n")
                    #expect(shown.contains("***"), "not masked: \(encoded)")
                    // What is left around the mask cannot be decoded back into the secret's middle.
                    for piece in shown.components(separatedBy: "***") {
                        #expect(piece.count < 12, "a long piece of the encoding is left: \(piece) of \(encoded)")
                    }
                }
            }
        }
    }

    @Test("JSON-escaped and URL-escaped forms of a secret are masked")
    func escapedForms() throws {
        let r = Redactor(secrets: [Self.secret])
        let json = String(decoding: try JSONEncoder().encode([Self.secret]), as: UTF8.self)  // escapes / as \/
        var unescapedSlash = ""
        jsonStringKeepingSlash(Self.secret, into: &unescapedSlash)
        // Python's json.dumps: quotes and backslashes escaped, non-ASCII as \u escapes.
        let asciiOnly = Self.secret.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .unicodeScalars.map { $0.isASCII ? String($0) : String(format: "\\u%04x", $0.value) }.joined()
        let strict = Self.secret.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"))!
        let keepSlash = Self.secret.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/"))!
        let form = strict.replacingOccurrences(of: "%20", with: "+")
        for text in [json, unescapedSlash, asciiOnly, strict, keepSlash, form] {
            let shown = r.redact("x=" + text + "&")
            #expect(shown.contains("***") && !shown.contains("s3cret"), "not masked: \(text) → \(shown)")
        }
    }

    @Test("short values are not masked in their encoded forms (they would garble ordinary text)")
    func shortSecretsKeepText() {
        let r = Redactor(secrets: ["abcd"])
        #expect(r.redact("abcd YWJjZA== ok") == "*** YWJjZA== ok")
    }

    @Test("text that arrives in pieces is masked across every cut, and nothing else changes")
    func streamedAtEveryCut() {
        let r = Redactor(secrets: [Self.secret, "another-secret-value"])
        let whole = "start " + Self.secret + " middle " + Self.base64("xy" + Self.secret) + " another-secret-value end"
        let bytes = Array(whole.utf8)
        // Pieces hold whole characters (the shell step holds back an incomplete UTF-8 sequence).
        let boundaries = (1..<bytes.count).filter { bytes[$0] & 0xC0 != 0x80 }
        for cut in boundaries {
            for second in [cut, boundaries.first { $0 >= cut + 7 } ?? cut] {
                var stream = RedactingStream(r)
                var shown = ""
                for (a, b) in [(0, cut), (cut, second), (second, bytes.count)] where a < b {
                    shown += stream.feed(String(decoding: bytes[a..<b], as: UTF8.self))
                }
                shown += stream.finish()
                #expect(!shown.contains("s3cret") && !shown.contains("another-secret"), "cut at \(cut), \(second): \(shown)")
                #expect(shown.hasPrefix("start ***") && shown.hasSuffix("*** end"))
            }
        }
        // Without secrets, pieces pass straight through.
        var plain = RedactingStream(Redactor())
        #expect(plain.feed("tok/Su") == "tok/Su")
    }
}

/// JSON string escaping that keeps `/` (Python's json.dumps, most JSON writers).
private func jsonStringKeepingSlash(_ s: String, into out: inout String) {
    out += "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        default: out.unicodeScalars.append(u)
        }
    }
    out += "\""
}
