import Foundation
import Hummingbird
import NIOCore
import SousBasics
import SousCrypto
import Testing

@testable import SousLocalCloud

/// The disk side of receiving a body: chunks written around the page cache, padded and truncated.
@Suite("Direct writes of received bodies")
struct DirectWriteTests {
    /// Writes `data` through a FileSink in 1 MiB chunks (released at once by the stand-in hasher) and reads
    /// the file back.
    static func writeAndRead(_ data: [UInt8], in dir: String) async throws -> [UInt8] {
        let path = dir + "/body-\(data.count)"
        let sink = try FileSink(path: path)
        var offset = 0
        while true {
            let chunk = ChunkPool.shared.take()
            let n = min(AlignedChunk.size, data.count - offset)
            data.withUnsafeBytes { chunk.base.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            chunk.count = n
            sink.submit(chunk, offset: offset)
            sink.release(chunk)  // the hasher's hold
            offset += n
            await sink.wait(untilAtMost: FileSink.maxInFlight - 1)
            if n < AlignedChunk.size { break }
        }
        await sink.wait(untilAtMost: 0)
        try sink.close(length: data.count)
        defer { unlink(path) }
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var out = [UInt8](repeating: 0, count: n)
        out.withUnsafeMutableBytes { raw in
            var i = 0
            while i < n {
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                withUnsafeBytes(of: x) { w in
                    for j in 0..<min(8, n - i) { raw[i + j] = w[j] }
                }
                i += 8
            }
        }
        return out
    }

    @Test("Bodies of every awkward length are written exactly, on a disk (O_DIRECT) and on tmpfs (which refuses it)")
    func exactBytes() async throws {
        var dirs = [FileManager.default.temporaryDirectory.path + "/sous-direct-\(getpid())"]
        if FileManager.default.fileExists(atPath: "/dev/shm") { dirs.append("/dev/shm/sous-direct-\(getpid())") }
        for dir in dirs {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let mib = AlignedChunk.size
            for n in [0, 1, 4095, 4096, 4097, mib - 1, mib, mib + 1, 3 * mib + 12_345, 5 * mib] {
                let data = Self.bytes(n, seed: UInt64(n + 1))
                let back = try await Self.writeAndRead(data, in: dir)
                #expect(back.count == n, "\(dir): \(n) bytes")
                #expect(back == data, "\(dir): \(n) bytes")
            }
        }
    }

    @Test("A write error (the file's descriptor turned read-only) reaches the receiver as an S3 InternalError naming the file")
    func writeError() async throws {
        let path = FileManager.default.temporaryDirectory.path + "/sous-direct-ro-\(getpid())"
        let sink = try FileSink(path: path)
        defer { unlink(path) }
        let ro = open(path, O_RDONLY)
        #expect(dup2(ro, sink.fd) == sink.fd)
        close(ro)
        let chunk = ChunkPool.shared.take()
        chunk.count = 100
        sink.submit(chunk, offset: 0)
        sink.release(chunk)  // the hasher's hold
        await sink.wait(untilAtMost: 0)
        let error = sink.error
        sink.abandon()
        #expect(error?.code == "InternalError")
        #expect(error.map { "\($0)" }?.contains(path) == true)
    }

    @Test("Many bodies received at once, in pieces of every size: each file holds exactly its bytes and its MD5")
    func concurrentBodies() async throws {
        let dir = FileManager.default.temporaryDirectory.path + "/sous-direct-many-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mib = AlignedChunk.size
        // Chunks go back to the pool (and to other bodies) while a body is still arriving; a body that read a
        // handed-over chunk again would lose or misplace a megabyte.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for k in 0..<32 {
                group.addTask {
                    let n = (2 + k % 4) * mib + (k * 7_919) % 100_000
                    let data = Self.bytes(n, seed: UInt64(1_000 + k))
                    var buffers: [ByteBuffer] = []
                    var off = 0
                    var step = 0
                    while off < n {
                        let len = min(n - off, [65_536, 1, 300_000, mib, 4096 * 3 + 5][step % 5] + k)
                        buffers.append(ByteBuffer(bytes: data[off..<(off + len)]))
                        off += len
                        step += 1
                    }
                    let stream = AsyncStream<ByteBuffer> { c in
                        for b in buffers { c.yield(b) }
                        c.finish()
                    }
                    let url = URL(fileURLWithPath: dir + "/body-\(k)")
                    var reader = BodyReader()
                    if k % 2 == 0 { reader.sha256 = SHA256Hasher() }
                    let file = try await BodyIO.receive(RequestBody(asyncSequence: stream), to: url, reader: &reader)
                    #expect(file.size == UInt64(n), "body \(k)")
                    #expect(file.md5 == Digest.md5(data), "body \(k)")
                    if k % 2 == 0 { #expect(reader.sha256?.finalize() == Digest.sha256(data), "body \(k)") }
                    let back = try Data(contentsOf: url)
                    #expect(back.count == n && back.elementsEqual(data), "body \(k)")
                }
            }
            try await group.waitForAll()
        }
    }
}
