// Table-driven CRC-32 (slicing-by-16) over raw buffers, for the decoder's hot path.
//
// SousCrypto's `CRC32` is the reference implementation (the encoder uses it, and the tests check
// this one against it on random data); its generic byte-at-a-time `update(some Sequence<UInt8>)`
// is not specialisable across modules, which makes it ~20x too slow for decoding 100 MB streams.

/// Sixteen 256-entry tables for slicing-by-16 (polynomial 0xEDB88320), in one flat block (16 KiB) allocated
/// once for the life of the process. `@unchecked Sendable`: the block is written only while the global is
/// initialised (once, under Swift's lazy-global lock) and only read afterwards, so sharing it is safe.
private struct CRCTables: @unchecked Sendable {
    let base: UnsafePointer<UInt32>
}

private let crcTables = CRCTables(base: {
    let t = UnsafeMutablePointer<UInt32>.allocate(capacity: 16 * 256)
    t.initialize(repeating: 0, count: 16 * 256)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        t[i] = c
    }
    for i in 0..<256 {
        var c = t[i]
        for k in 1..<16 {
            c = t[Int(c & 0xff)] ^ (c >> 8)
            t[k * 256 + i] = c
        }
    }
    return UnsafePointer(t)
}())

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

/// CRC-32 (IEEE) of `bytes`, continuing from `crc` (0 to start).
///
/// Slicing-by-16, software-pipelined: the twelve table lookups of a block that do not depend on the running
/// CRC are done one block ahead, so the loop-carried chain is one XOR, four lookups and three XORs (~1.4x
/// the plain slicing-by-16 loop, whose XORs the compiler chains behind the dependent lookups).
func eventStreamCRC32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
    let t = crcTables.base
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
