// Table-driven cyclic redundancy checks: CRC-32 (IEEE), CRC-32C (Castagnoli) and CRC-64/NVME, the three CRCs
// of S3's flexible checksums (CRC-32 is also the AWS event stream's and gzip's). All three are reflected CRCs
// with all-ones initial value and final XOR, so one slicing-by-16 loop (32-bit) and one slicing-by-8 loop
// (64-bit) serve them, and one GF(2) multiplication combines the CRCs of two adjacent byte ranges.

/// Slicing tables of one reflected polynomial, in one flat block allocated once for the life of the process.
/// `@unchecked Sendable`: the block is written only while its global is initialised (once, under Swift's
/// lazy-global lock) and only read afterwards.
struct CRCTables<Word: FixedWidthInteger & UnsignedInteger>: @unchecked Sendable {
    let base: UnsafePointer<Word>
    let polynomial: Word

    init(reflectedPolynomial poly: Word, slices: Int) {
        let t = UnsafeMutablePointer<Word>.allocate(capacity: slices * 256)
        for i in 0..<256 {
            var c = Word(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? poly ^ (c >> 1) : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            var c = t[i]
            for k in 1..<slices {
                c = t[Int(truncatingIfNeeded: c & 0xff)] ^ (c >> 8)
                t[k * 256 + i] = c
            }
        }
        base = UnsafePointer(t)
        polynomial = poly
    }
}

let crc32Tables = CRCTables<UInt32>(reflectedPolynomial: 0xEDB8_8320, slices: 16)
let crc32cTables = CRCTables<UInt32>(reflectedPolynomial: 0x82F6_3B78, slices: 16)
let crc64nvmeTables = CRCTables<UInt64>(reflectedPolynomial: 0x9A6C_9329_AC4B_C9B5, slices: 8)

/// Entry `t[k * 256 + byte (shift/8) of v]`.
@inline(__always)
private func lookup(_ t: UnsafePointer<UInt32>, _ k: Int, _ v: UInt64, _ shift: UInt64) -> UInt32 {
    t[k &* 256 &+ Int(truncatingIfNeeded: (v &>> shift) & 0xff)]
}

/// The twelve lookups of a 16-byte block that do not depend on the running CRC (bytes 4...15).
@inline(__always)
private func independentPart(_ t: UnsafePointer<UInt32>, _ p: UnsafeRawPointer) -> UInt32 {
    let lo = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
    let hi = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    let h0 = lookup(t, 7, hi, 0) ^ lookup(t, 6, hi, 8)
    let h1 = lookup(t, 5, hi, 16) ^ lookup(t, 4, hi, 24)
    let h2 = lookup(t, 3, hi, 32) ^ lookup(t, 2, hi, 40)
    let h3 = lookup(t, 1, hi, 48) ^ lookup(t, 0, hi, 56)
    let l1 = lookup(t, 11, lo, 32) ^ lookup(t, 10, lo, 40)
    let l2 = lookup(t, 9, lo, 48) ^ lookup(t, 8, lo, 56)
    return ((h0 ^ h1) ^ (h2 ^ h3)) ^ (l1 ^ l2)
}

/// A 32-bit reflected CRC of `bytes` continuing from `crc` (0 to start).
///
/// Slicing-by-16, software-pipelined: the twelve table lookups of a block that do not depend on the running
/// CRC are done one block ahead, so the loop-carried chain is one XOR, four lookups and three XORs.
func crc32Update(_ tables: CRCTables<UInt32>, _ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
    let t = tables.base
    var c = ~crc
    var p = base
    var n = bytes.count
    if n >= 16 {
        var ahead = independentPart(t, p)
        while n >= 32 {
            let a = UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ c)
            let next = independentPart(t, p + 16)
            c = ((lookup(t, 15, a, 0) ^ lookup(t, 14, a, 8)) ^ (lookup(t, 13, a, 16) ^ lookup(t, 12, a, 24))) ^ ahead
            ahead = next
            p += 16
            n -= 16
        }
        let a = UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ c)
        c = ((lookup(t, 15, a, 0) ^ lookup(t, 14, a, 8)) ^ (lookup(t, 13, a, 16) ^ lookup(t, 12, a, 24))) ^ ahead
        p += 16
        n -= 16
    }
    if n >= 8 {
        let lo = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
        let rest = (lookup(t, 3, lo, 32) ^ lookup(t, 2, lo, 40)) ^ (lookup(t, 1, lo, 48) ^ lookup(t, 0, lo, 56))
        let a = UInt64(UInt32(truncatingIfNeeded: lo) ^ c)
        c = ((lookup(t, 7, a, 0) ^ lookup(t, 6, a, 8)) ^ (lookup(t, 5, a, 16) ^ lookup(t, 4, a, 24))) ^ rest
        p += 8
        n -= 8
    }
    while n > 0 {
        c = t[Int(truncatingIfNeeded: (c ^ UInt32(p.load(as: UInt8.self))) & 0xff)] ^ (c >> 8)
        p += 1
        n -= 1
    }
    return ~c
}

/// A 64-bit reflected CRC of `bytes` continuing from `crc` (0 to start), slicing-by-8.
func crc64Update(_ tables: CRCTables<UInt64>, _ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
    let t = tables.base
    var c = ~crc
    var p = base
    var n = bytes.count
    @inline(__always) func at(_ k: Int, _ v: UInt64, _ shift: UInt64) -> UInt64 {
        t[k &* 256 &+ Int(truncatingIfNeeded: (v &>> shift) & 0xff)]
    }
    while n >= 8 {
        let v = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) ^ c
        c = ((at(7, v, 0) ^ at(6, v, 8)) ^ (at(5, v, 16) ^ at(4, v, 24)))
            ^ ((at(3, v, 32) ^ at(2, v, 40)) ^ (at(1, v, 48) ^ at(0, v, 56)))
        p += 8
        n -= 8
    }
    while n > 0 {
        c = t[Int(truncatingIfNeeded: (c ^ UInt64(p.load(as: UInt8.self))) & 0xff)] ^ (c >> 8)
        p += 1
        n -= 1
    }
    return ~c
}

/// `a * b mod P` in the reflected bit order of a CRC (bit `width-1` is x^0).
private func multiplyModP<Word: FixedWidthInteger & UnsignedInteger>(_ a: Word, _ b: Word, _ poly: Word) -> Word {
    var m = Word(1) << (Word.bitWidth - 1)
    var product: Word = 0
    var a = a
    var b = b
    while m != 0 && a != 0 {
        if a & m != 0 {
            product ^= b
            a ^= m
        }
        m >>= 1
        b = (b & 1) != 0 ? (b >> 1) ^ poly : b >> 1
    }
    return product
}

/// The CRC of `A ‖ B` from `crc(A)`, `crc(B)` and `B`'s length (zlib's `crc32_combine`, any reflected CRC
/// whose initial value equals its final XOR).
func crcCombine<Word: FixedWidthInteger & UnsignedInteger>(
    _ tables: CRCTables<Word>, _ first: Word, _ second: Word, secondLength: UInt64
) -> Word {
    let one = Word(1) << (Word.bitWidth - 1)
    var shift = one  // x^(8 * secondLength) mod P
    var power = one >> 8  // x^8
    var n = secondLength
    while n > 0 {
        if n & 1 != 0 { shift = multiplyModP(shift, power, tables.polynomial) }
        power = multiplyModP(power, power, tables.polynomial)
        n >>= 1
    }
    return multiplyModP(shift, first, tables.polynomial) ^ second
}
