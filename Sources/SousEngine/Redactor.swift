import Foundation

/// Replaces secret values with `***`: the value, each line of a multi-line value, and the forms a program
/// turns them into — base64 (standard and URL alphabets, at each of the three byte offsets the value can
/// have in the encoded text, as GitHub Actions' runner does), JSON string escapes and URL percent-encoding.
public struct Redactor: Sendable {
    /// Fragments are matched longest first so a line of a secret never leaves part of it behind.
    public private(set) var fragments: [String] = []
    /// The fragments' UTF-8 bytes, in the same order (for ``RedactingStream``).
    private(set) var fragmentBytes: [[UInt8]] = []
    /// Values (and lines) shorter than this are not redacted (they would garble ordinary text).
    public static let minimumLength = 4
    /// Encoded forms shorter than this are not redacted: a few base64 characters occur in ordinary text by chance.
    public static let minimumEncodedLength = 8

    public init(secrets: [String] = []) { for s in secrets { add(s) } }

    public mutating func add(_ secret: String) {
        var parts = [secret]
        for line in secret.split(whereSeparator: \.isNewline) {
            parts.append(line.trimmingSpaces)
        }
        for p in parts where p.count >= Self.minimumLength {
            insert(p)
            for form in Self.encodedForms(p) { insert(form) }
        }
        fragments.sort { $0.utf8.count > $1.utf8.count }
        fragmentBytes = fragments.map { Array($0.utf8) }
    }

    private mutating func insert(_ fragment: String) {
        if !fragments.contains(fragment) { fragments.append(fragment) }
    }

    public var isEmpty: Bool { fragments.isEmpty }

    /// `text` with every secret fragment replaced.
    public func redact(_ text: String) -> String {
        guard !fragments.isEmpty else { return text }
        var out = text
        for f in fragments where out.contains(f) { out = out.replacingAll(f, with: "***") }
        return out
    }

    /// The forms `value` takes when a program encodes it (those that differ from it; base64 ones only when
    /// at least ``minimumEncodedLength`` long).
    static func encodedForms(_ value: String) -> [String] {
        var forms: [String] = []
        let bytes = Array(value.utf8)
        // base64: the value starts at byte offset 0, 1 or 2 of a 3-byte group. Only the characters made of the
        // value's bits alone are kept (the first and last ones mix in the bytes around it).
        for offset in 0..<3 {
            let lead = (3 - offset) % 3
            var data = Data(repeating: 0, count: lead)
            data.append(contentsOf: bytes)
            let chars = Array(data.base64EncodedString().utf8)
            let start = (lead * 8 + 5) / 6
            let end = ((lead + bytes.count) * 8) / 6
            guard end - start >= minimumEncodedLength else { continue }
            let standard = String(decoding: chars[start..<end], as: UTF8.self)
            forms.append(standard)
            forms.append(standard.replacingAll("+", with: "-").replacingAll("/", with: "_"))
        }
        // JSON string escapes: as most writers escape, with `/` escaped too (Foundation's JSONEncoder), and
        // with non-ASCII characters as \u escapes (Python's json.dumps).
        let json = jsonEscaped(value, slash: false, ascii: false)
        forms += [json, jsonEscaped(value, slash: true, ascii: false), jsonEscaped(value, slash: false, ascii: true)]
        // URL percent-encoding: everything but the unreserved characters, the same keeping `/`, and form
        // encoding (space as `+`).
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        if let strict = value.addingPercentEncoding(withAllowedCharacters: unreserved) {
            forms.append(strict)
            forms.append(strict.replacingAll("%20", with: "+"))
            forms.append(strict.replacingAll("%2F", with: "/"))
        }
        var unique: [String] = []
        for f in forms where f != value && !unique.contains(f) { unique.append(f) }
        return unique
    }

    /// `s` as it stands between the quotes of a JSON string.
    static func jsonEscaped(_ s: String, slash: Bool, ascii: Bool) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/" where slash: out += "\\/"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || (ascii && u.value > 0x7e):
                for unit in String(u).utf16 { out += String(format: "\\u%04x", unit) }
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}

/// Redacts text that arrives in pieces (a command's output, a streamed answer): a secret cut between two
/// pieces is still masked whole. The end of what came that could be the start of a secret is held back
/// until the next piece shows whether it is one; ``finish()`` gives what is left.
public struct RedactingStream: Sendable {
    public let redactor: Redactor
    /// UTF-8 bytes held back: they may be the start of a secret.
    private var pending: [UInt8] = []

    public init(_ redactor: Redactor) { self.redactor = redactor }

    /// The part of `text` (after what was held back) that can be shown now, redacted.
    public mutating func feed(_ text: String) -> String {
        guard !redactor.isEmpty else { return text }
        pending += text.utf8
        // A fragment starts with a whole character, so the cut falls between characters.
        let cut = pending.count - heldBack(pending)
        let ready = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return redactor.redact(ready)
    }

    /// What was held back, redacted: the output has ended.
    public mutating func finish() -> String {
        defer { pending = [] }
        return redactor.redact(String(decoding: pending, as: UTF8.self))
    }

    /// The length of the longest end of `bytes` that is the start (not the whole) of a fragment.
    private func heldBack(_ bytes: [UInt8]) -> Int {
        var longest = 0
        for f in redactor.fragmentBytes {
            var k = min(f.count - 1, bytes.count)
            while k > longest {
                if bytes[(bytes.count - k)...].elementsEqual(f[..<k]) {
                    longest = k
                    break
                }
                k -= 1
            }
        }
        return longest
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}

extension String {
    /// Replaces every occurrence of `target` (no Foundation needed).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            result += rest[rest.startIndex..<r.lowerBound]
            result += replacement
            rest = rest[r.upperBound...]
        }
        result += rest
        return result
    }
}
