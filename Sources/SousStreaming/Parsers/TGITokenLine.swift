/// TGI's usual streaming event, read by a fast path that accepts exactly this shape (no whitespace, keys in
/// TGI's order) and leaves every other line to the general JSON reader:
/// `{"index":N,"token":{"id":N,"text":"…","logprob":X,"special":B},"generated_text":null,"details":null}`
/// (`"index":N,` is optional: TGI before 1.1 did not send it). What it accepts, it reads exactly as the
/// general reader would.
struct TGITokenLine {
    /// The raw JSON string body of `token.text` (escapes kept), as a range of the line.
    var text: Range<Int>?
    var escaped: Bool
    var id: Int?
    var special: Bool

    /// The token of `line` when the line has exactly the usual shape, else nil.
    static func match(_ line: UnsafeRawBufferPointer) -> TGITokenLine? {
        guard let base = line.baseAddress else { return nil }
        var c = Cursor(p: base.assumingMemoryBound(to: UInt8.self), n: line.count)
        if c.literal("{\"index\":") {
            guard c.integer() != nil, c.literal(",\"token\":{\"id\":") else { return nil }
        } else {
            guard c.literal("{\"token\":{\"id\":") else { return nil }
        }
        guard let id = c.integer(), c.literal(",\"text\":\"") else { return nil }
        let start = c.i
        var escaped = false
        while c.i < c.n {
            let b = c.p[c.i]
            if b == 0x22 { break }
            if b == 0x5C {
                escaped = true
                c.i += 2
            } else {
                c.i += 1
            }
        }
        guard c.i < c.n else { return nil }
        let text = start..<c.i
        c.i += 1
        guard c.literal(",\"logprob\":"), c.number(), c.literal(",\"special\":") else { return nil }
        let special: Bool
        if c.literal("false") {
            special = false
        } else if c.literal("true") {
            special = true
        } else {
            return nil
        }
        guard c.literal("},\"generated_text\":null,\"details\":null}"), c.i == c.n else { return nil }
        return TGITokenLine(text: text, escaped: escaped, id: id, special: special)
    }

    private struct Cursor {
        let p: UnsafePointer<UInt8>
        let n: Int
        var i = 0

        /// Consumes `s` when the bytes at the cursor are exactly `s`.
        @inline(__always) mutating func literal(_ s: StaticString) -> Bool {
            let m = s.utf8CodeUnitCount
            guard n - i >= m else { return false }
            // Inline compare, 8 bytes at a time (a memcmp call costs more than these short literals).
            let a = UnsafeRawPointer(p + i)
            let b = UnsafeRawPointer(s.utf8Start)
            var j = 0
            while m - j >= 8 {
                if a.loadUnaligned(fromByteOffset: j, as: UInt64.self) != b.loadUnaligned(fromByteOffset: j, as: UInt64.self) {
                    return false
                }
                j += 8
            }
            while j < m {
                if a.load(fromByteOffset: j, as: UInt8.self) != b.load(fromByteOffset: j, as: UInt8.self) { return false }
                j += 1
            }
            i += m
            return true
        }

        /// An optionally negative run of 1...18 digits not followed by a fraction or exponent (as
        /// `JSONScanner.readInt` reads an integer); nil otherwise.
        @inline(__always) mutating func integer() -> Int? {
            var j = i
            var negative = false
            if j < n, p[j] == 0x2D {
                negative = true
                j += 1
            }
            var v = 0
            let first = j
            while j < n, p[j] >= 0x30, p[j] <= 0x39, j - first < 18 {
                v = v &* 10 &+ Int(p[j] &- 0x30)
                j += 1
            }
            guard j > first else { return nil }
            if j < n, Self.isNumberByte(p[j]) { return nil }
            i = j
            return negative ? -v : v
        }

        /// A number as `JSONScanner.skipValue` skips one: a sign or digit, then number bytes.
        @inline(__always) mutating func number() -> Bool {
            guard i < n, p[i] == 0x2D || (p[i] >= 0x30 && p[i] <= 0x39) else { return false }
            i += 1
            while i < n, Self.isNumberByte(p[i]) { i += 1 }
            return true
        }

        @inline(__always) static func isNumberByte(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2B || c == 0x2E || c == 0x65 || c == 0x45
        }
    }
}
