import Foundation
import SousCrypto
import Testing

/// Bit-at-a-time reflected CRC, written from the definition: the reference the table-driven loops are checked against.
private func referenceCRC(_ bytes: [UInt8], poly: UInt64, width: Int) -> UInt64 {
    let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
    var c = mask
    for b in bytes {
        c ^= UInt64(b)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ poly : c >> 1 }
    }
    return ~c & mask
}

private let references: [(ChecksumAlgorithm, UInt64, Int)] = [
    (.crc32, 0xEDB8_8320, 32), (.crc32c, 0x82F6_3B78, 32), (.crc64nvme, 0x9A6C_9329_AC4B_C9B5, 64),
]

private func bigEndian(_ v: UInt64, width: Int) -> [UInt8] {
    (0..<(width / 8)).reversed().map { UInt8(truncatingIfNeeded: v >> UInt64($0 * 8)) }
}

private func pseudoRandomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
    var x = seed
    return (0..<n).map { _ in
        x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: x >> 33)
    }
}

@Suite struct ChecksumTests {
    @Test("check values of the CRC catalogue for \"123456789\" and the SHA known answers")
    func checkValues() {
        let input = Array("123456789".utf8)
        #expect(Checksum.of(.crc32, input).hexString == "cbf43926")
        #expect(Checksum.of(.crc32c, input).hexString == "e3069283")
        #expect(Checksum.of(.crc64nvme, input).hexString == "ae8b14860a799888")
        #expect(Checksum.of(.sha1, Array("abc".utf8)).hexString == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Checksum.of(.sha256, [UInt8]()).base64String == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        // S3's documented form: base64 of the big-endian digest.
        var c = Checksum(.crc32)
        c.update(Array("hello".utf8))
        #expect(c.base64() == "NhCmhg==")
    }

    @Test("table-driven CRCs equal the bitwise definition at every length 0...600, in one call and split in two")
    func everyLengthAndSplit() {
        let data = pseudoRandomBytes(600, seed: 7)
        for (algorithm, poly, width) in references {
            for n in 0...data.count {
                let slice = Array(data[0..<n])
                let want = bigEndian(referenceCRC(slice, poly: poly, width: width), width: width)
                #expect(Checksum.of(algorithm, slice) == want, "\(algorithm) length \(n)")
                let cut = n / 3
                var split = Checksum(algorithm)
                split.update(slice[0..<cut])
                split.update(slice[cut...])
                #expect(split.digest() == want, "\(algorithm) length \(n) split at \(cut)")
            }
        }
    }

    @Test("combining two parts' CRCs gives the CRC of the whole, for every split point")
    func combine() {
        let data = pseudoRandomBytes(300, seed: 11)
        for (algorithm, _, _) in references {
            let whole = Checksum.of(algorithm, data)
            for cut in 0...data.count {
                let a = Checksum.of(algorithm, data[0..<cut])
                let b = Checksum.of(algorithm, data[cut...])
                let combined = CRCCombine.combine(algorithm, a, b, secondLength: UInt64(data.count - cut))
                #expect(combined == whole, "\(algorithm) cut \(cut)")
            }
        }
        // A long second part exercises the squaring loop beyond a few bits.
        let big = pseudoRandomBytes(1 << 20, seed: 3)
        let a = Checksum.of(.crc64nvme, big[0..<12345])
        let b = Checksum.of(.crc64nvme, big[12345...])
        #expect(
            CRCCombine.combine(.crc64nvme, a, b, secondLength: UInt64(big.count - 12345)) == Checksum.of(.crc64nvme, big))
    }

    @Test("CRC32 chained over raw memory equals one pass; composite checksum has S3's form")
    func chainingAndComposite() {
        let data = pseudoRandomBytes(1000, seed: 5)
        let a = data.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<100])) }
        let ab = data.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[100...]), continuing: a) }
        #expect(ab == CRC32.checksum(data))
        let parts = [Checksum.of(.crc32, data[0..<500]), Checksum.of(.crc32, data[500...])]
        let composite = CRCCombine.composite(.crc32, partDigests: parts)
        #expect(composite == Checksum.of(.crc32, parts[0] + parts[1]).base64String + "-2")
        #expect(ChecksumAlgorithm(awsName: "crc64nvme") == .crc64nvme)
        #expect(ChecksumAlgorithm.crc32c.headerName == "x-amz-checksum-crc32c")
        #expect(ChecksumAlgorithm(awsName: "md5") == nil)
    }
}
