import Foundation
import Testing

@testable import SousBasics

/// `DirectFile`: bytes written in order around the page cache (or through it where O_DIRECT is refused), from
/// any offset, with failures reported and no write outliving the descriptor.
@Suite("Direct file writes")
struct DirectFileTests {
    /// Folders on a disk (O_DIRECT taken) and on tmpfs (refused at open) when the machine has one.
    static func folders() throws -> [String] {
        var dirs = [NSTemporaryDirectory() + "sous-directfile-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"]
        if FileManager.default.fileExists(atPath: "/dev/shm") { dirs.append("/dev/shm/sous-directfile-\(getpid())-\(UInt32.random(in: 0...UInt32.max))") }
        for d in dirs { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        return dirs
    }

    /// 8 MiB of pseudo-random bytes; inputs are slices of it at different places.
    static let noise: [UInt8] = {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        var out = [UInt8](repeating: 0, count: 8 << 20)
        out.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in words.indices {
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                words[i] = x
            }
        }
        return out
    }()

    static func bytes(_ n: Int, seed: Int) -> [UInt8] {
        let start = (seed &* 7_919) % (noise.count - n + 1)
        return Array(noise[start..<(start + n)])
    }

    /// Writes `data` after `prefix` (already in the file, as a resumed download has it) in pieces of `piece`
    /// bytes, and reads the file back.
    static func write(_ data: [UInt8], after prefix: [UInt8], piece: Int, at path: String) throws -> [UInt8] {
        if prefix.isEmpty { unlink(path) } else { #expect(FileManager.default.createFile(atPath: path, contents: Data(prefix))) }
        let fd = DirectWriter.open(path, flags: O_RDWR | O_CREAT)
        #expect(fd >= 0)
        defer { close(fd) }
        let file = try DirectFile(fd: fd, path: path, offset: prefix.count)
        var off = 0
        while off < data.count {
            let n = min(piece, data.count - off)
            let err = data.withUnsafeBytes { file.write(UnsafeRawBufferPointer(rebasing: $0[off..<(off + n)])) }
            #expect(err == nil)
            off += n
        }
        #expect(file.length == prefix.count + data.count)
        #expect(file.finish() == nil)
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test("Every awkward length and piece size, from the start and after an unaligned prefix, on disk and tmpfs")
    func exactBytes() throws {
        let mib = AlignedChunk.size
        for dir in try Self.folders() {
            defer { try? FileManager.default.removeItem(atPath: dir) }
            for n in [0, 1, 4095, 4096, 4097, mib - 1, mib, mib + 1, 3 * mib + 12_345, 6 * mib + 7] {
                for prefix in [0, 1, 4096, mib + 3] {
                    for piece in [1_000_003, 7_919] where n < 2 * mib || piece != 7_919 {
                        let data = Self.bytes(n, seed: n + prefix + 1)
                        let head = Self.bytes(prefix, seed: prefix + 99)
                        let back = try Self.write(data, after: head, piece: piece, at: dir + "/f")
                        #expect(back.count == prefix + n, "\(dir): \(prefix) + \(n) bytes in pieces of \(piece)")
                        #expect(back == head + data, "\(dir): \(prefix) + \(n) bytes in pieces of \(piece)")
                    }
                }
            }
        }
    }

    @Test("A failed write is returned by the next write or by finish, and drain waits for every chunk")
    func writeError() throws {
        let path = NSTemporaryDirectory() + "sous-directfile-ro-\(getpid())"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        let file = try DirectFile(fd: fd, path: path, offset: 0)
        let data = Self.bytes(AlignedChunk.size * (DirectFile.maxInFlight + 3), seed: 7)
        var sawError: Int32?
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count, sawError == nil {
                sawError = file.write(UnsafeRawBufferPointer(rebasing: raw[off..<min(raw.count, off + 300_000)]))
                off += 300_000
            }
        }
        let final = file.finish()
        #expect((sawError ?? final) == EBADF)
        #expect(final == EBADF)
        #expect(file.drain() == EBADF)
    }

    @Test("Resuming from an offset whose block cannot be read back is refused with the file's name")
    func unreadablePrefix() throws {
        let path = NSTemporaryDirectory() + "sous-directfile-short-\(getpid())"
        #expect(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        defer { unlink(path) }
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        // The file holds 3 bytes; resuming at 10 would need 10 bytes of its first block.
        #expect(throws: FileWriteError.self) { try DirectFile(fd: fd, path: path, offset: 10) }
        #expect(FileWriteError(path: path, code: EIO).description.contains(path))
    }
}
