import Foundation
import SousCrypto
import Testing

@Suite struct DigestTests {
    @Test func sha256KnownAnswers() {
        #expect(Digest.sha256(Data()).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256(Data("abc".utf8)).hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func md5KnownAnswer() {
        #expect(Digest.md5(Data("abc".utf8)).hexString == "900150983cd24fb0d6963f7d28e17f72")
    }

    @Test func sha1KnownAnswersAndGitBlobID() {
        #expect(Digest.sha1(Data("abc".utf8)).hexString == "a9993e364706816aba3e25717850c26c9cd0d89d")
        // `git hash-object` of a file holding "hello\n" (git's blob id = sha1("blob 6\0hello\n")).
        var h = SHA256Hasher(algorithm: .sha1)
        h.update(Data("blob 6\u{0}".utf8))
        h.update(Data("hello\n".utf8))
        #expect(h.finalize().hexString == "ce013625030ba8dba906f756967f9e9ca394464a")
    }

    @Test func hmacRFC4231Case2() {
        let mac = Digest.hmacSHA256(key: Data("Jefe".utf8), data: Data("what do ya want for nothing?".utf8))
        #expect(mac.hexString == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func incrementalEqualsOneShot() {
        let data = Data((0..<10_000).map { UInt8($0 % 251) })
        var h = SHA256Hasher()
        h.update(data.prefix(3333))
        h.update(data.dropFirst(3333))
        #expect(h.finalize() == Digest.sha256(data))
    }

    @Test func crc32KnownAnswer() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func fileHashMatchesMemoryHash() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sous-hash-\(UUID().uuidString)").path
        let data = Data((0..<3_000_000).map { UInt8($0 % 253) })
        try data.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try sha256OfFile(atPath: path) == Digest.sha256(data))
        #expect(try sha256OfFile(atPath: path, offset: 10, length: 100) == Digest.sha256(data[10..<110]))
    }
}
