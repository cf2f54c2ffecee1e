import Foundation
import SousCrypto
import SousTestSupport
import Testing

@Suite struct FileDigestCacheTests {
    @Test func remembersADigestOnlyWhileTheFileIsUnchanged() throws {
        let dir = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("weights.bin").path
        try Data(repeating: 7, count: 3 << 20).write(to: URL(fileURLWithPath: path))
        let first = try FileDigestCache.sha256(ofFile: path)
        #expect(first == Digest.sha256(Data(repeating: 7, count: 3 << 20)))
        #expect(try FileDigestCache.sha256(ofFile: path) == first)

        // Same size, different bytes: the identity (mtime/ctime) changed, so the digest is recomputed.
        try Data(repeating: 9, count: 3 << 20).write(to: URL(fileURLWithPath: path))
        // (an explicit mtime, so the test does not depend on the kernel's timestamp granularity)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: path)
        #expect(try FileDigestCache.sha256(ofFile: path) == Digest.sha256(Data(repeating: 9, count: 3 << 20)))

        // Replaced by another file (new inode) under the same name.
        let other = dir.appendingPathComponent("other.bin").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: other))
        _ = try FileDigestCache.sha256(ofFile: other)
        #expect(rename(other, path) == 0)
        #expect(try FileDigestCache.sha256(ofFile: path) == Digest.sha256(Data("hello".utf8)))

        // A region request only uses the cache for the whole file.
        #expect(try FileDigestCache.sha256(ofFile: path, ifSize: 5) == Digest.sha256(Data("hello".utf8)))
        #expect(try FileDigestCache.sha256(ofFile: path, ifSize: 4) == nil)
        #expect(throws: (any Error).self) { try FileDigestCache.sha256(ofFile: dir.appendingPathComponent("missing").path) }
    }

    @Test func fileRegionsHashLikeTheBytesAcrossChunkBoundaries() throws {
        let dir = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = Data((0..<((5 << 19) + 7)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) })
        let path = dir.appendingPathComponent("region.bin").path
        try bytes.write(to: URL(fileURLWithPath: path))
        for (offset, length) in [(0, bytes.count), ((1 << 20) - 3, (1 << 20) + 10), (5, 1), (bytes.count - 2, 2)] {
            let slice = bytes[offset..<(offset + length)]
            #expect(try sha256OfFile(atPath: path, offset: UInt64(offset), length: UInt64(length)) == Digest.sha256(slice))
            #expect(try md5OfFile(atPath: path, offset: UInt64(offset), length: UInt64(length)) == Digest.md5(slice))
        }
        // A region past the end stops at the end.
        #expect(try sha256OfFile(atPath: path, offset: UInt64(bytes.count - 1), length: 100) == Digest.sha256(bytes.suffix(1)))
        let missing = dir.appendingPathComponent("missing.bin").path
        #expect { try md5OfFile(atPath: missing) } throws: { error in
            (error as? FileReadError)?.description == "Cannot read \(missing): No such file or directory."
        }
    }
}
