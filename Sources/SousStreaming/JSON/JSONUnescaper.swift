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
