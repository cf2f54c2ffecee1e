import Foundation
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
        return (0..<n).map { _ in
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
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

    @Test("A write error (a file opened read-only) reaches the receiver as an S3 InternalError naming the file")
    func writeError() async throws {
        let path = FileManager.default.temporaryDirectory.path + "/sous-direct-ro-\(getpid())"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        let chunk = ChunkPool.shared.take()
        chunk.count = 100
        let error = DirectWriter.write(chunk, at: 0, fd: fd, path: path)
        close(fd)
        ChunkPool.shared.give(chunk)
        #expect(error?.code == "InternalError")
        #expect(error.map { "\($0)" }?.contains(path) == true)
    }
}
