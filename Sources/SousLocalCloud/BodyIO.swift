import Foundation
import Hummingbird
import NIOCore
import SousBasics
import SousCrypto

/// Streams request bodies to files and files to response bodies, hashing on the way (no whole-object buffering).
enum BodyIO {
    /// Writes the bytes `reader` makes of `body` (decoded from aws-chunked, hashed) to a new file at `url`, with their
    /// MD5 (the ETag) computed together with the other bodies arriving meanwhile. The bytes are gathered in 1 MiB
    /// page-aligned chunks that go to the disk writer (`DirectWriter`, around the page cache) and to `MD5Batcher` at
    /// once; a body holds at most `FileSink.maxInFlight` chunks.
    static func receive(_ body: RequestBody, to url: URL, reader: inout BodyReader) async throws -> ReceivedFile {
        let sink = try FileSink(path: url.path)
        let stream = MD5Batcher.shared.open()
        var size = 0  // bytes handed over in full chunks
        var chunk = ChunkPool.shared.take()
        do {
            for try await buffer in body {
                try buffer.withUnsafeReadableBytes { raw in
                    try reader.feed(raw) { piece in
                        var off = 0
                        while off < piece.count {
                            let n = min(piece.count - off, AlignedChunk.size - chunk.count)
                            (chunk.base + chunk.count).copyMemory(from: piece.baseAddress! + off, byteCount: n)
                            chunk.count += n
                            off += n
                            if chunk.count == AlignedChunk.size {
                                // Once handed over, the chunk may be hashed, written and back in the pool (and
                                // refilled by another body) at any moment: nothing of it is read here afterwards.
                                let full = chunk, bytes = chunk.bytes
                                sink.submit(full, offset: size)
                                MD5Batcher.shared.add(stream, bytes) { sink.release(full) }
                                size += bytes.count
                                chunk = ChunkPool.shared.take()
                            }
                        }
                    }
                }
                if let error = sink.error { throw error }
                await sink.wait(untilAtMost: FileSink.maxInFlight - 1)
            }
        } catch {
            ChunkPool.shared.give(chunk)
            await sink.wait(untilAtMost: 0)  // the writer and the hasher are done with this body's chunks
            sink.abandon()
            try? FileManager.default.removeItem(at: url)
            throw error
        }
        let last = chunk, lastBytes = chunk.bytes
        let total = size + lastBytes.count
        sink.submit(last, offset: size)
        let md5 = await MD5Batcher.shared.finish(stream, lastBytes, total: total) { sink.release(last) }
        await sink.wait(untilAtMost: 0)
        do {
            try sink.close(length: total)
        } catch {
            try? FileManager.default.removeItem(at: url)
            throw error
        }
        return ReceivedFile(url: url, size: UInt64(total), md5: md5)
    }

    /// A response body that streams `length` bytes from `offset` of the bytes held, in order, by `pieces` (one
    /// file, or the parts of a multipart object).
    static func fileBody(_ pieces: [(url: URL, size: UInt64)], offset: UInt64, length: UInt64) throws -> ResponseBody {
        let range = try ObjectRange(pieces, offset: offset, length: length)
        return ResponseBody(contentLength: Int(length)) { writer in
            defer { range.close() }
            try await range.read { try await writer.write($0) }
            try await writer.finish(nil)
        }
    }

    /// Copies a range of an object to a new file at `url` (UploadPartCopy), with its MD5 and, when asked, a checksum.
    static func copy(_ range: ObjectRange, to url: URL, checksum algorithm: ChecksumAlgorithm?) async throws -> ReceivedFile {
        defer { range.close() }
        let fd = open(url.path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw ServiceError(.internalServerError, "InternalError", "The local cloud could not create \(url.path) (errno \(errno)).")
        }
        defer { _ = Foundation.close(fd) }
        var md5 = SHA256Hasher(algorithm: .md5)
        var checksum = algorithm.map { Checksum($0) }
        do {
            try await range.read { buffer in
                try buffer.withUnsafeReadableBytes { raw in
                    md5.update(raw)
                    checksum?.update(raw)
                    var off = 0
                    while off < raw.count {
                        let n = write(fd, raw.baseAddress! + off, raw.count - off)
                        if n < 0 && errno == EINTR { continue }
                        guard n > 0 else {
                            throw ServiceError(
                                .internalServerError, "InternalError", "The local cloud could not write \(url.path) (errno \(errno)); is the disk full?")
                        }
                        off += n
                    }
                }
            }
        } catch {
            try? FileManager.default.removeItem(at: url)
            throw error
        }
        let digest = checksum.map { (algorithm: $0.algorithm, digest: $0.digest()) }
        return ReceivedFile(url: url, size: range.length, md5: md5.finalize(), checksum: digest)
    }
}

/// `length` bytes from `offset` of the bytes held, in order, by an object's files, opened at once: a file
/// replaced meanwhile (an overwrite of the key) is still read whole. Closed by `close()`.
struct ObjectRange: Sendable {
    private let handles: [(fd: FileDescriptorBox, url: URL, start: UInt64, size: UInt64)]
    let offset: UInt64
    let length: UInt64

    init(_ pieces: [(url: URL, size: UInt64)], offset: UInt64, length: UInt64) throws {
        var handles: [(fd: FileDescriptorBox, url: URL, start: UInt64, size: UInt64)] = []
        var base: UInt64 = 0
        for p in pieces {
            defer { base += p.size }
            guard base + p.size > offset, base < offset + length else { continue }
            let fd = open(p.url.path, O_RDONLY)
            guard fd >= 0 else {
                for h in handles { h.fd.close() }
                throw ServiceError(.internalServerError, "InternalError", "The local cloud could not open \(p.url.path) (errno \(errno)).")
            }
            handles.append((FileDescriptorBox(fd), p.url, base, p.size))
        }
        self.handles = handles
        self.offset = offset
        self.length = length
    }

    /// Reads the range in order, handing it on in buffers of at most 256 KiB.
    func read(_ consume: (ByteBuffer) async throws -> Void) async throws {
        var remaining = length
        var pos = offset  // position in the object
        let chunk = 256 * 1024
        for h in handles where remaining > 0 {
            while remaining > 0 && pos < h.start + h.size {
                let want = Int(min(UInt64(chunk), remaining, h.start + h.size - pos))
                var buf = ByteBuffer()
                buf.reserveCapacity(want)
                let n = buf.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { ptr in
                    let r = pread(h.fd.fd, ptr.baseAddress!, want, off_t(pos - h.start))
                    return r > 0 ? r : 0
                }
                if n == 0 { throw ServiceError(.internalServerError, "InternalError", "\(h.url.path) is shorter than expected") }
                pos += UInt64(n)
                remaining -= UInt64(n)
                try await consume(buf)
            }
        }
        if remaining > 0 { throw ServiceError(.internalServerError, "InternalError", "the object's data files are shorter than expected") }
    }

    func close() { for h in handles { h.fd.close() } }
}

/// Owns a file descriptor that a streaming response body closes when done.
/// @unchecked Sendable: `fd` is immutable and closed once, guarded by `lock`.
final class FileDescriptorBox: @unchecked Sendable {
    let fd: Int32
    private let lock = NSLock()
    private var closed = false
    init(_ fd: Int32) { self.fd = fd }
    func close() {
        lock.lock()
        defer { lock.unlock() }
        if !closed {
            closed = true
            _ = Foundation.close(fd)
        }
    }
    deinit { close() }
}
