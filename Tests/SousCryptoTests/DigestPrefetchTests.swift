import Foundation
import SousTestSupport
import Synchronization
import Testing

@testable import SousCrypto

@Suite struct DigestPrefetchTests {
    @Test("Callers asking for a file being hashed wait for that pass: prefetch plus four callers read the file once")
    func oneHashPerFile() async throws {
        let dir = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var words = [UInt64](repeating: 0, count: 6 << 20)  // 48 MiB: long enough that the callers overlap
        for i in words.indices { words[i] = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 }
        let bytes = words.withUnsafeBytes { Data($0) }
        let path = dir.appendingPathComponent("shard.bin").path
        try bytes.write(to: URL(fileURLWithPath: path))
        let expected = Digest.sha256(bytes)
        FileDigestCache.prefetch([path])
        let results = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<4 {
                group.addTask { try await Task.detached { try FileDigestCache.sha256(ofFile: path) }.value }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 4)
        #expect(results.allSatisfy { $0 == expected })
        #expect(FileDigestCache.passes.withLock { $0[path] } == 1)
    }

    @Test("A prefetched file that changed before it is asked for is hashed again (no stale digest)")
    func changedAfterPrefetch() throws {
        let dir = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("w.bin").path
        try Data(repeating: 1, count: 1 << 20).write(to: URL(fileURLWithPath: path))
        #expect(try FileDigestCache.sha256(ofFile: path) == Digest.sha256(Data(repeating: 1, count: 1 << 20)))
        try Data(repeating: 2, count: 1 << 20).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 2_000_000)], ofItemAtPath: path)
        #expect(try FileDigestCache.sha256(ofFile: path) == Digest.sha256(Data(repeating: 2, count: 1 << 20)))
        #expect(FileDigestCache.passes.withLock { $0[path] } == 2)
    }
}
