// Table-driven CRC-32 (slicing-by-16) over raw buffers, for the decoder's hot path.
//
// SousCrypto's `CRC32` is the reference implementation (the encoder uses it, and the tests check
// this one against it on random data); its generic byte-at-a-time `update(some Sequence<UInt8>)`
// is not specialisable across modules, which makes it ~20x too slow for decoding 100 MB streams.

/// Sixteen 256-entry tables for slicing-by-16 (polynomial 0xEDB88320), in one flat array (16 KiB).
private let crcTables: [UInt32] = {
    var t = [UInt32](repeating: 0, count: 16 * 256)
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
    return t
}()

/// CRC-32 (IEEE) of `bytes`, continuing from `crc` (0 to start).
func eventStreamCRC32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
    return crcTables.withUnsafeBufferPointer { tp -> UInt32 in
        let t = tp.baseAddress!
        var c = ~crc
        var p = base
        var n = bytes.count
        while n >= 16 {
            let a = p.loadUnaligned(as: UInt32.self).littleEndian ^ c
            let b = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian
            let d = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
            let e = p.loadUnaligned(fromByteOffset: 12, as: UInt32.self).littleEndian
            let x = t[15 * 256 + Int(a & 0xff)] ^ t[14 * 256 + Int((a >> 8) & 0xff)]
                ^ t[13 * 256 + Int((a >> 16) & 0xff)] ^ t[12 * 256 + Int(a >> 24)]
            let y = t[11 * 256 + Int(b & 0xff)] ^ t[10 * 256 + Int((b >> 8) & 0xff)]
                ^ t[9 * 256 + Int((b >> 16) & 0xff)] ^ t[8 * 256 + Int(b >> 24)]
            let z = t[7 * 256 + Int(d & 0xff)] ^ t[6 * 256 + Int((d >> 8) & 0xff)]
                ^ t[5 * 256 + Int((d >> 16) & 0xff)] ^ t[4 * 256 + Int(d >> 24)]
            let w = t[3 * 256 + Int(e & 0xff)] ^ t[2 * 256 + Int((e >> 8) & 0xff)]
                ^ t[1 * 256 + Int((e >> 16) & 0xff)] ^ t[Int(e >> 24)]
            c = x ^ y ^ z ^ w
            p += 16
            n -= 16
        }
        if n >= 8 {
            let lo = p.loadUnaligned(as: UInt32.self).littleEndian ^ c
            let hi = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian
            c = t[7 * 256 + Int(lo & 0xff)] ^ t[6 * 256 + Int((lo >> 8) & 0xff)]
                ^ t[5 * 256 + Int((lo >> 16) & 0xff)] ^ t[4 * 256 + Int(lo >> 24)]
                ^ t[3 * 256 + Int(hi & 0xff)] ^ t[2 * 256 + Int((hi >> 8) & 0xff)]
                ^ t[1 * 256 + Int((hi >> 16) & 0xff)] ^ t[Int(hi >> 24)]
            p += 8
            n -= 8
        }
        while n > 0 {
            c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xff)] ^ (c >> 8)
            p += 1
            n -= 1
        }
        return ~c
    }
}
