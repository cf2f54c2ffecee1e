import Foundation
import Hummingbird
import NIOCore
import SousCrypto

/// Streams request bodies to files and files to response bodies, hashing on the way (no whole-object buffering).
enum BodyIO {
    /// Writes `body` to a new file at `url`, computing SHA-256 as it goes when `sha256` is set (the client
    /// signed the payload's hash), and its MD5 (the ETag) with the other bodies arriving meanwhile. The bytes are
    /// gathered in 1 MiB page-aligned chunks that go to the disk writer (`DirectWriter`, around the page
    /// cache) and to `MD5Batcher` at once; a body holds at most `FileSink.maxInFlight` chunks.
    static func receive(_ body: RequestBody, to url: URL, sha256 wantSHA: Bool = true) async throws -> ReceivedFile {
        let sink = try FileSink(path: url.path)
        let stream = MD5Batcher.shared.open()
        var sha = SHA256Hasher()
        var size = 0  // bytes handed over in full chunks
        var chunk = ChunkPool.shared.take()
        do {
            for try await buffer in body {
                buffer.withUnsafeReadableBytes { raw in
                    if wantSHA { sha.update(raw) }
                    var off = 0
                    while off < raw.count {
                        let n = min(raw.count - off, AlignedChunk.size - chunk.count)
                        (chunk.base + chunk.count).copyMemory(from: raw.baseAddress! + off, byteCount: n)
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
        return ReceivedFile(url: url, size: UInt64(total), md5: md5, sha256: wantSHA ? sha.finalize() : [])
    }

    /// A response body that streams `length` bytes from `offset` of the bytes held, in order, by `pieces` (one
    /// file, or the parts of a multipart object). Every file is opened before the response starts, so a piece
    /// replaced meanwhile (an overwrite of the key) is still read whole.
    static func fileBody(_ pieces: [(url: URL, size: UInt64)], offset: UInt64, length: UInt64) throws -> ResponseBody {
        var handles: [(fd: FileDescriptorBox, url: URL, start: UInt64, size: UInt64)] = []
        var base: UInt64 = 0
        for p in pieces {
            defer { base += p.size }
            guard base + p.size > offset, base < offset + length else { continue }
            let fd = open(p.url.path, O_RDONLY)
            guard fd >= 0 else {
                throw ServiceError(.internalServerError, "InternalError", "The local cloud could not open \(p.url.path) (errno \(errno)).")
            }
            handles.append((FileDescriptorBox(fd), p.url, base, p.size))
        }
        let opened = handles
        return ResponseBody(contentLength: Int(length)) { writer in
            defer { for h in opened { h.fd.close() } }
            var remaining = length
            var pos = offset  // position in the object
            let chunk = 256 * 1024
            for h in opened where remaining > 0 {
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
                    try await writer.write(buf)
                }
            }
            if remaining > 0 { throw ServiceError(.internalServerError, "InternalError", "the object's data files are shorter than expected") }
            try await writer.finish(nil)
        }
    }
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
