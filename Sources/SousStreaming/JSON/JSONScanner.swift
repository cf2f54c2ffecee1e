internal import Foundation

/// A small, allocation-light JSON reader over a byte buffer: it walks objects key by key, materialises
/// only the values asked for and skips the rest. Malformed input sets `failed` (never traps).
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
        guard let (range, escaped) = readRawString() else { return nil }
        let raw = UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
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
