// A small, allocation-light JSON reader over a byte buffer: it walks objects key by key, materialises
// only the values asked for and skips the rest. Malformed input sets `failed` (never traps).

internal import Foundation

struct JSONScanner {
    let base: UnsafePointer<UInt8>
    let end: Int
    var i = 0
    var failed = false
    private var depth = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        // An empty buffer has no base address: use a dummy pointer, never read since `end` is 0.
        if let b = bytes.baseAddress {
            base = b.assumingMemoryBound(to: UInt8.self)
            end = bytes.count
        } else {
            base = UnsafePointer(bitPattern: 0x10)!
            end = 0
        }
    }

    @inline(__always) mutating func skipWhitespace() {
        while i < end {
            let c = base[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { return }
        }
    }

    @inline(__always) mutating func peek() -> UInt8? {
        skipWhitespace()
        return i < end ? base[i] : nil
    }

    /// True (and consumes it) when the next non-blank byte is `c`.
    @inline(__always) mutating func consume(_ c: UInt8) -> Bool {
        if peek() == c {
            i += 1
            return true
        }
        return false
    }

    /// True when only whitespace is left.
    mutating func atEnd() -> Bool { peek() == nil }

    // MARK: objects and arrays

    /// Enters an object (`{`); false (and `failed`) when the value is not an object.
    mutating func beginObject() -> Bool {
        if consume(0x7B) { return true }
        failed = true
        return false
    }

    /// The next key of the current object, as a range of raw bytes (escapes kept), or nil at `}`.
    /// `first` must start true for each object.
    mutating func nextKey(_ first: inout Bool) -> Range<Int>? {
        if failed { return nil }
        if first {
            first = false
            if consume(0x7D) { return nil }
        } else {
            if consume(0x7D) { return nil }
            guard consume(0x2C) else {
                failed = true
                return nil
            }
        }
        guard peek() == 0x22 else {
            failed = true
            return nil
        }
        let start = i + 1
        guard skipString() else { return nil }
        let range = start..<(i - 1)
        guard consume(0x3A) else {
            failed = true
            return nil
        }
        return range
    }

    /// Enters an array (`[`).
    mutating func beginArray() -> Bool {
        if consume(0x5B) { return true }
        failed = true
        return false
    }

    /// True when the array has another element (consuming the comma), false at `]`.
    mutating func nextElement(_ first: inout Bool) -> Bool {
        if failed { return false }
        if consume(0x5D) { return false }
        if first {
            first = false
            return true
        }
        guard consume(0x2C) else {
            failed = true
            return false
        }
        return true
    }

    /// Compares a raw key with an ASCII name.
    @inline(__always) func key(_ r: Range<Int>, is name: StaticString) -> Bool {
        guard r.count == name.utf8CodeUnitCount else { return false }
        return memcmp(base + r.lowerBound, name.utf8Start, r.count) == 0
    }

    // MARK: scalars

    /// Skips a string starting at `"`; false (and `failed`) if it is not terminated.
    mutating func skipString() -> Bool {
        guard i < end, base[i] == 0x22 else {
            failed = true
            return false
        }
        i += 1
        while i < end {
            let c = base[i]
            if c == 0x22 {
                i += 1
                return true
            }
            i += c == 0x5C ? 2 : 1
        }
        failed = true
        return false
    }

    /// Reads a string value (unescaping it); nil for `null`; `failed` for anything else.
    mutating func readStringOrNull() -> String? {
        guard let c = peek() else {
            failed = true
            return nil
        }
        if c == 0x6E {
            _ = readLiteral()
            return nil
        }
        guard c == 0x22 else {
            _ = skipValue()
            failed = true
            return nil
        }
        let start = i + 1
        var j = start
        var escaped = false
        while j < end {
            let b = base[j]
            if b == 0x22 { break }
            if b == 0x5C {
                escaped = true
                j += 2
            } else {
                j += 1
            }
        }
        guard j < end else {
            failed = true
            return nil
        }
        i = j + 1
        let raw = UnsafeBufferPointer(start: base + start, count: j - start)
        if !escaped { return String(decoding: raw, as: UTF8.self) }
        var out = [UInt8]()
        out.reserveCapacity(raw.count)
        var unescaper = JSONUnescaper()
        unescaper.run(UnsafeRawBufferPointer(raw), into: &out)
        unescaper.flush(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Reads a string value as the range of its raw body (between the quotes) and whether it contains
    /// escapes; nil for `null` (or, with `failed`, anything else).
    mutating func readRawString() -> (Range<Int>, Bool)? {
        guard let c = peek() else {
            failed = true
            return nil
        }
        guard c == 0x22 else {
            if c == 0x6E {
                _ = readLiteral()
            } else {
                _ = skipValue()
                failed = true
            }
            return nil
        }
        let start = i + 1
        var j = start
        var escaped = false
        while j < end {
            let b = base[j]
            if b == 0x22 { break }
            if b == 0x5C {
                escaped = true
                j += 2
            } else {
                j += 1
            }
        }
        guard j < end else {
            failed = true
            return nil
        }
        i = j + 1
        return (start..<j, escaped)
    }

    /// Reads an integer (a number with no fraction, or the first element of a one-number array);
    /// nil for `null` or a non-integer number.
    mutating func readInt() -> Int? {
        guard let c = peek() else {
            failed = true
            return nil
        }
        if c == 0x5B {
            var first = true
            var value: Int?
            guard beginArray() else { return nil }
            while nextElement(&first) {
                let v = readInt()
                if value == nil { value = v }
            }
            return value
        }
        if c == 0x2D || (c >= 0x30 && c <= 0x39) {
            let start = i
            skipNumber()
            var negative = false
            var j = start
            if base[j] == 0x2D {
                negative = true
                j += 1
            }
            var v = 0
            var digits = 0
            while j < i, base[j] >= 0x30, base[j] <= 0x39, digits < 18 {
                v = v * 10 + Int(base[j] - 0x30)
                j += 1
                digits += 1
            }
            return j == i && digits > 0 ? (negative ? -v : v) : nil
        }
        _ = skipValue()
        return nil
    }

    /// Reads `true`/`false`; nil for anything else (skipped).
    mutating func readBool() -> Bool? {
        guard let c = peek() else {
            failed = true
            return nil
        }
        if c == 0x74 || c == 0x66 || c == 0x6E { return readLiteral() }
        _ = skipValue()
        return nil
    }

    /// Reads `true`, `false` or `null` (nil).
    private mutating func readLiteral() -> Bool? {
        func match(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard i + n <= end, memcmp(base + i, s.utf8Start, n) == 0 else { return false }
            i += n
            return true
        }
        if match("true") { return true }
        if match("false") { return false }
        if match("null") { return nil }
        failed = true
        return nil
    }

    private mutating func skipNumber() {
        while i < end {
            let c = base[i]
            if (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2B || c == 0x2E || c == 0x65 || c == 0x45 {
                i += 1
            } else {
                return
            }
        }
    }

    /// True when the next value is `null` (consumed).
    mutating func consumeNull() -> Bool {
        if peek() == 0x6E {
            _ = readLiteral()
            return !failed
        }
        return false
    }

    /// Skips any value; false on malformed input.
    @discardableResult
    mutating func skipValue() -> Bool {
        guard let c = peek(), !failed else {
            failed = true
            return false
        }
        switch c {
        case 0x22: return skipString()
        case 0x7B:
            depth += 1
            defer { depth -= 1 }
            if depth > 64 {
                failed = true
                return false
            }
            i += 1
            var first = true
            while nextKey(&first) != nil { if !skipValue() { return false } }
            return !failed
        case 0x5B:
            depth += 1
            defer { depth -= 1 }
            if depth > 64 {
                failed = true
                return false
            }
            i += 1
            var first = true
            while nextElement(&first) { if !skipValue() { return false } }
            return !failed
        case 0x74, 0x66, 0x6E:
            _ = readLiteral()
            return !failed
        case 0x2D, 0x30...0x39:
            skipNumber()
            return true
        default:
            failed = true
            return false
        }
    }
}

/// The byte each one-character JSON escape stands for (`\n` → 0x0A …), 0 for characters that are not one:
/// 256 bytes allocated once for the life of the process. `@unchecked Sendable`: written only while the
/// global is initialised (once, under Swift's lazy-global lock), read-only afterwards.
private struct SimpleEscapeTable: @unchecked Sendable {
    let base: UnsafePointer<UInt8>
}

private let simpleEscapeTable = SimpleEscapeTable(base: {
    let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    t.initialize(repeating: 0, count: 256)
    for c in [UInt8](arrayLiteral: 0x6E, 0x74, 0x72, 0x62, 0x66, 0x22, 0x5C, 0x2F) {
        t[Int(c)] = JSONUnescaper.simpleEscape(c) ?? 0
    }
    return UnsafePointer(t)
}())

/// Incremental JSON string unescaper (the part between the quotes): handles `\n \" \\ \/ \b \f \r \t`,
/// `\uXXXX` and surrogate pairs even when an escape is split between two calls. Lone surrogates and bad
/// escapes become U+FFFD. Output is UTF-8.
struct JSONUnescaper: Sendable {
    private enum State: Sendable {
        case normal
        case backslash
        /// Collecting the 4 hex digits of `\u`; `high` is a pending high surrogate.
        case hex(count: Int, value: UInt32, high: UInt32?)
        /// After a high surrogate: expecting `\`.
        case afterHigh(UInt32)
        /// After a high surrogate and `\`: expecting `u`.
        case afterHighBackslash(UInt32)
    }

    private var state = State.normal

    /// True when no escape is half-read.
    var isIdle: Bool {
        if case .normal = state { return true }
        return false
    }

    /// Unescapes `bytes` into `out` up to the first quote that is not part of an escape (the end of the
    /// string) and returns that quote's index; nil when there is none (all of `bytes` was unescaped).
    @discardableResult
    mutating func run(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Int? {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
        let src = base.assumingMemoryBound(to: UInt8.self)
        let n = bytes.count
        // Decoded bytes are staged in a stack buffer and appended to `out` in blocks: one step of the fast
        // loop writes at most 7 plain bytes and one escape (4 bytes), or 8 plain bytes, so it keeps
        // `margin` bytes free.
        let capacity = 512
        let margin = 16
        let escapes = simpleEscapeTable.base
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { tmp -> Int? in
            let dst = tmp.baseAddress!
            // Locals of the closure (a captured outer variable would live in memory, costing a store per byte).
            var k = 0
            var w = 0
            while k < n {
                guard case .normal = state else {
                    // An escape split between calls (or one the fast loop left): byte by byte.
                    if w > 0 {
                        out.append(contentsOf: UnsafeBufferPointer(start: dst, count: w))
                        w = 0
                    }
                    if step(src[k], into: &out) { k += 1 }
                    continue
                }
                // Fast loop: plain bytes and escapes that lie wholly inside `bytes`.
                while k < n && w <= capacity - margin {
                    if n - k >= 8 {
                        // Eight bytes at once: copied whole, then the cursor moves to the first backslash or quote.
                        let x = UnsafeRawPointer(src + k).loadUnaligned(as: UInt64.self)
                        UnsafeMutableRawPointer(dst + w).storeBytes(of: x, as: UInt64.self)
                        let le = UInt64(littleEndian: x)
                        let s = le ^ 0x5C5C_5C5C_5C5C_5C5C
                        let q = le ^ 0x2222_2222_2222_2222
                        // High bit set in the bytes of s (q) that are zero: exact for the lowest such byte.
                        let zeros = ((s &- 0x0101_0101_0101_0101) & ~s | (q &- 0x0101_0101_0101_0101) & ~q)
                            & 0x8080_8080_8080_8080
                        if zeros == 0 {
                            w += 8
                            k += 8
                            continue
                        }
                        let plain = zeros.trailingZeroBitCount >> 3
                        w += plain
                        k += plain
                    } else if src[k] != 0x5C && src[k] != 0x22 {
                        dst[w] = src[k]
                        w += 1
                        k += 1
                        continue
                    }
                    if src[k] == 0x22 {
                        // The end of the string.
                        out.append(contentsOf: UnsafeBufferPointer(start: dst, count: w))
                        return k
                    }
                    // A backslash at k.
                    guard k + 1 < n else { break }
                    let c = src[k + 1]
                    if c != 0x75 {
                        // A table, not a switch: the escape characters mix unpredictably.
                        let e = escapes[Int(c)]
                        if e != 0 {
                            dst[w] = e
                            w += 1
                        } else {
                            w += Self.encodeScalar(0xFFFD, dst + w)
                        }
                        k += 2
                        continue
                    }
                    guard k + 6 <= n, let v = Self.hex4(src + k + 2) else { break }
                    if v < 0xD800 || v > 0xDFFF {
                        if v >= 0x80 {
                            // Two or three UTF-8 bytes, chosen without a branch (they mix unpredictably): the
                            // third byte is written either way and overwritten next when unused.
                            let two = v < 0x800
                            dst[w] = UInt8(truncatingIfNeeded: two ? 0xC0 | (v >> 6) : 0xE0 | (v >> 12))
                            dst[w + 1] = UInt8(truncatingIfNeeded: two ? 0x80 | (v & 0x3F) : 0x80 | ((v >> 6) & 0x3F))
                            dst[w + 2] = UInt8(truncatingIfNeeded: 0x80 | (v & 0x3F))
                            w += two ? 2 : 3
                        } else {
                            dst[w] = UInt8(truncatingIfNeeded: v)
                            w += 1
                        }
                        k += 6
                        continue
                    }
                    if v >= 0xDC00 {
                        w += Self.encodeScalar(0xFFFD, dst + w)
                        k += 6
                        continue
                    }
                    guard k + 12 <= n, src[k + 6] == 0x5C, src[k + 7] == 0x75, let lo = Self.hex4(src + k + 8),
                        lo >= 0xDC00, lo <= 0xDFFF
                    else { break }
                    w += Self.encodeScalar(0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00), dst + w)
                    k += 12
                }
                if w > capacity - margin || k == n {
                    out.append(contentsOf: UnsafeBufferPointer(start: dst, count: w))
                    w = 0
                    continue
                }
                // The fast loop stopped at a backslash whose escape is cut off or not decodable as a whole:
                // the state machine takes it from here.
                state = .backslash
                k += 1
            }
            if w > 0 { out.append(contentsOf: UnsafeBufferPointer(start: dst, count: w)) }
            return nil
        }
    }

    /// Ends the string: a dangling escape or lone surrogate becomes U+FFFD.
    mutating func flush(into out: inout [UInt8]) {
        if !isIdle { appendReplacement(&out) }
        state = .normal
    }

    /// Processes one byte in an escape state; returns false when the byte must be processed again.
    private mutating func step(_ c: UInt8, into out: inout [UInt8]) -> Bool {
        switch state {
        case .normal:
            return true  // not reached: handled by run()
        case .backslash:
            state = .normal
            switch c {
            case 0x6E: out.append(0x0A)
            case 0x74: out.append(0x09)
            case 0x72: out.append(0x0D)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x22, 0x5C, 0x2F: out.append(c)
            case 0x75: state = .hex(count: 0, value: 0, high: nil)
            default: appendReplacement(&out)
            }
            return true
        case .hex(let count, let value, let high):
            guard let d = hexDigit(c) else {
                appendReplacement(&out)
                if high != nil { appendReplacement(&out) }
                state = .normal
                return false
            }
            let v = value << 4 | d
            if count < 3 {
                state = .hex(count: count + 1, value: v, high: high)
                return true
            }
            state = .normal
            if let high {
                if (0xDC00...0xDFFF).contains(v) {
                    appendScalar(0x10000 + ((high - 0xD800) << 10) + (v - 0xDC00), &out)
                    return true
                }
                appendReplacement(&out)
            }
            if (0xD800...0xDBFF).contains(v) {
                state = .afterHigh(v)
            } else if (0xDC00...0xDFFF).contains(v) {
                appendReplacement(&out)
            } else {
                appendScalar(v, &out)
            }
            return true
        case .afterHigh(let high):
            if c == 0x5C {
                state = .afterHighBackslash(high)
                return true
            }
            appendReplacement(&out)
            state = .normal
            return false
        case .afterHighBackslash(let high):
            if c == 0x75 {
                state = .hex(count: 0, value: 0, high: high)
                return true
            }
            appendReplacement(&out)
            state = .backslash
            return false
        }
    }

    fileprivate static func simpleEscape(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x6E: 0x0A
        case 0x74: 0x09
        case 0x72: 0x0D
        case 0x62: 0x08
        case 0x66: 0x0C
        case 0x22, 0x5C, 0x2F: c
        default: nil
        }
    }

    /// Four hex digits at `p`, or nil (branch-free per digit: digits and letters mix unpredictably).
    @inline(__always)
    private static func hex4(_ p: UnsafePointer<UInt8>) -> UInt32? {
        let a = nibble(p[0]), b = nibble(p[1]), c = nibble(p[2]), d = nibble(p[3])
        guard (a | b | c | d) & 0x100 == 0 else { return nil }
        return a << 12 | b << 8 | c << 4 | d
    }

    /// The value of hex digit `c`, or 0x100 when `c` is not one.
    @inline(__always)
    private static func nibble(_ c: UInt8) -> UInt32 {
        let digit = UInt32(c) &- 0x30
        let letter = (UInt32(c) | 0x20) &- 0x61
        let v = letter < 6 ? letter + 10 : 0x100
        return digit < 10 ? digit : v
    }

    @inline(__always)
    private static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: UInt32(c - 0x30)
        case 0x61...0x66: UInt32(c - 0x61 + 10)
        case 0x41...0x46: UInt32(c - 0x41 + 10)
        default: nil
        }
    }

    private func hexDigit(_ c: UInt8) -> UInt32? { Self.hexValue(c) }

    /// Writes scalar `v` as UTF-8 at `p` (room for 4 bytes); returns the byte count.
    @inline(__always)
    private static func encodeScalar(_ v: UInt32, _ p: UnsafeMutablePointer<UInt8>) -> Int {
        switch v {
        case 0..<0x80:
            p[0] = UInt8(v)
            return 1
        case 0x80..<0x800:
            p[0] = UInt8(0xC0 | (v >> 6))
            p[1] = UInt8(0x80 | (v & 0x3F))
            return 2
        case 0x800..<0x10000:
            p[0] = UInt8(0xE0 | (v >> 12))
            p[1] = UInt8(0x80 | ((v >> 6) & 0x3F))
            p[2] = UInt8(0x80 | (v & 0x3F))
            return 3
        default:
            p[0] = UInt8(0xF0 | (v >> 18))
            p[1] = UInt8(0x80 | ((v >> 12) & 0x3F))
            p[2] = UInt8(0x80 | ((v >> 6) & 0x3F))
            p[3] = UInt8(0x80 | (v & 0x3F))
            return 4
        }
    }

    private func appendReplacement(_ out: inout [UInt8]) { out += [0xEF, 0xBF, 0xBD] }

    private func appendScalar(_ v: UInt32, _ out: inout [UInt8]) {
        switch v {
        case 0..<0x80: out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (v >> 6)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (v >> 12)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (v >> 18)))
            out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }
}

/// Length of the incomplete UTF-8 sequence at the end of `bytes` (0...3): bytes to hold back until the
/// rest of the character arrives.
func incompleteUTF8Suffix(_ bytes: UnsafeRawBufferPointer) -> Int {
    let n = bytes.count
    var k = 1
    while k <= min(3, n) {
        let b = bytes[n - k]
        if b & 0xC0 == 0x80 {
            k += 1
            continue
        }
        // b is a lead byte (or ASCII / invalid).
        let need: Int
        if b & 0xE0 == 0xC0 {
            need = 2
        } else if b & 0xF0 == 0xE0 {
            need = 3
        } else if b & 0xF8 == 0xF0 {
            need = 4
        } else {
            return 0
        }
        return need > k ? k : 0
    }
    return 0
}
