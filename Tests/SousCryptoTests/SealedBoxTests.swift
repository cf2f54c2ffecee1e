import Foundation
import SousCrypto
import SousTestSupport
import Testing

@Suite("SealedBox: AES-256-GCM")
struct SealedBoxTests {
    static let key = (0..<32).map { UInt8($0 &* 7 &+ 3) }

    @Test("Every length 0–300 round-trips; the box is nonce + ciphertext + tag and never holds the plaintext")
    func roundTrip() throws {
        for n in 0...300 {
            let plain = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 11) }
            let box = SealedBox.seal(plain, key: Self.key)
            #expect(box.count == 12 + n + 16)
            #expect(try SealedBox.open(box, key: Self.key) == plain)
            if n >= 8 { #expect(!box.indices.dropLast(n - 1).contains { Array(box[$0..<($0 + n)]) == plain }) }
        }
        let a = SealedBox.seal(Array("same".utf8), key: Self.key)
        let b = SealedBox.seal(Array("same".utf8), key: Self.key)
        #expect(a != b, "a fresh nonce per seal")
    }

    @Test("A changed byte anywhere, a cut box or another key is refused")
    func tamper() throws {
        let box = SealedBox.seal(Array("HF_TOKEN=hf_canary".utf8), key: Self.key)
        for i in box.indices {
            var bad = box
            bad[i] ^= 0x01
            #expect(throws: SealedBox.OpenError.self) { try SealedBox.open(bad, key: Self.key) }
        }
        #expect(throws: SealedBox.OpenError.self) { try SealedBox.open(Array(box.dropLast()), key: Self.key) }
        #expect(throws: SealedBox.OpenError.self) { try SealedBox.open(Array(box.prefix(20)), key: Self.key) }
        var other = Self.key
        other[0] ^= 0x80
        #expect(throws: SealedBox.OpenError.self) { try SealedBox.open(box, key: other) }
    }

    static let pythonHasCryptography = (try? runPython(["-c", "import cryptography"]).status) == 0

    @Test(
        "Python's cryptography (an independent AES-GCM) opens what SealedBox seals, and SealedBox opens what it seals",
        .enabled(if: pythonHasCryptography, "needs Python's cryptography package (a dependency of moto)"))
    func independentImplementation() throws {
        let plain = Array("{\"HF_TOKEN\":\"hf_canary\"}".utf8) + (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        let ours = SealedBox.seal(plain, key: Self.key)
        let script = """
            import os, sys, binascii
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            key = binascii.unhexlify(os.environ["KEY"]); box = binascii.unhexlify(os.environ["BOX"])
            g = AESGCM(key)
            print(binascii.hexlify(g.decrypt(box[:12], box[12:], None)).decode())
            nonce = os.urandom(12)
            print(binascii.hexlify(nonce + g.encrypt(nonce, binascii.unhexlify(os.environ["PLAIN"]), None)).decode())
            """
        let hex = { (b: [UInt8]) in b.map { String(format: "%02x", $0) }.joined() }
        let r = try runPython(["-c", script], environment: ["KEY": hex(Self.key), "BOX": hex(ours), "PLAIN": hex(plain)])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 2)
        #expect(lines[0] == hex(plain))
        let theirs = stride(from: 0, to: lines[1].count, by: 2).map { i -> UInt8 in
            let s = lines[1].index(lines[1].startIndex, offsetBy: i)
            return UInt8(lines[1][s..<lines[1].index(s, offsetBy: 2)], radix: 16)!
        }
        #expect(try SealedBox.open(theirs, key: Self.key) == plain)
    }
}
