import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing large files to the disk around the page cache (O_DIRECT), from recycled page-aligned chunks.
///
/// A buffered write() of a new file copies every byte into freshly allocated page-cache pages, and on a VM
/// whose host backs guest memory lazily that first touch of a page costs several times the copy itself
/// (measured here: 2.9–4.8 s of system CPU to write 2 GiB with `dd`, against 0.22 s with `oflag=direct`).
/// Written directly, the same bytes go from a few recycled 1 MiB chunks to the device: the CPU stays on
/// receiving and hashing, a file flushed afterwards (`fsync`) finds nothing left to write but the device's
/// cache, and large files nobody reads back soon do not fill the page cache. Used by the local cloud for the
/// bodies it receives and by the Hub client for the blobs it downloads. Where the file system refuses
/// O_DIRECT (tmpfs), the same path writes through the page cache.

/// One megabyte of page-aligned memory: a producer fills it, then the writer (and whoever else the producer
/// hands it to) reads it.
public final class AlignedChunk: @unchecked Sendable {
    // @unchecked Sendable: `count` is set by the producer before the chunk is handed over, and `holders` is only
    // changed by its owner with the owner's lock held; the memory is read-only while handed over.
    public static let size = 1 << 20
    /// Direct I/O needs offsets, lengths and addresses aligned to the device's logical block size.
    public static let alignment = 4096
    public let base: UnsafeMutableRawPointer
    public var count = 0
    /// How many readers still hold the chunk (kept by its owner).
    public var holders = 0

    init() {
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, Self.alignment, Self.size) == 0, let p else {
            fatalError("out of memory allocating a 1 MiB write buffer")
        }
        base = p
    }

    deinit { free(base) }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Copies as much of `bytes` as fits; returns how many bytes were taken.
    public func fill(from bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, Self.size - count)
        if n > 0 { (base + count).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        count += n
        return n
    }

    public var isFull: Bool { count == Self.size }
}

/// Chunks recycled across files, so the memory they use is touched once rather than once per file.
public final class ChunkPool: @unchecked Sendable {
    // @unchecked Sendable: `free` is only touched with `lock` held.
    public static let shared = ChunkPool()
    /// Chunks kept for reuse (64 MiB); more in flight at once are freed when they come back.
    static let keep = 64
    private let lock = NSLock()
    private var free: [AlignedChunk] = []

    public func take() -> AlignedChunk {
        lock.lock()
        let c = free.popLast()
        lock.unlock()
        let chunk = c ?? AlignedChunk()
        chunk.count = 0
        chunk.holders = 0
        return chunk
    }

    public func give(_ c: AlignedChunk) {
        lock.lock()
        if free.count < Self.keep { free.append(c) }
        lock.unlock()
    }
}

/// A few threads that write chunks with `pwrite`: a direct write blocks for the device's time, which must not
/// hold up the threads that receive the bytes.
public final class DirectWriter: @unchecked Sendable {
    // @unchecked Sendable: `queue`, `head` and `started` are only touched with `cond` held.
    public static let shared = DirectWriter()
    static let threads = 4
    private struct Job {
        var chunk: AlignedChunk
        var offset: Int
        var fd: Int32
        var done: @Sendable (Int32?) -> Void
    }
    private let cond = NSCondition()
    private var queue: [Job] = []
    private var head = 0
    private var started = false

    /// O_DIRECT where the platform has it (Linux; the value is per architecture and Swift's Glibc does not
    /// export it); elsewhere 0, and macOS turns caching off with F_NOCACHE instead.
    public static let directFlag: Int32 = {
        #if os(Linux) && arch(x86_64)
            return 0o40000
        #elseif os(Linux) && arch(arm64)
            return 0o200000
        #else
            return 0
        #endif
    }()

    /// Opens `path` with `flags` (which must not include O_APPEND: chunks go to explicit offsets) for direct
    /// writes where the file system allows them, else through the page cache. Returns -1 with `errno` set.
    public static func open(_ path: String, flags: Int32, mode: UInt32 = 0o644) -> Int32 {
        var fd: Int32 = -1
        if directFlag != 0 {
            fd = Foundation.open(path, flags | directFlag | O_CLOEXEC, mode_t(mode))
            if fd < 0 && errno != EINVAL { return -1 }
        }
        if fd < 0 { fd = Foundation.open(path, flags | O_CLOEXEC, mode_t(mode)) }  // EINVAL: no O_DIRECT here (tmpfs)
        #if canImport(Darwin)
            if fd >= 0 { _ = fcntl(fd, F_NOCACHE, 1) }
        #endif
        return fd
    }

    /// Writes `chunk`'s bytes at `offset` of `fd` on a writer thread, padded with zeros to a whole block (the
    /// caller sets the file's length at the end), then calls `done` there with the `errno` of a failed write.
    /// The chunk must not change until then; `offset` must be a multiple of `AlignedChunk.alignment`.
    public func write(_ chunk: AlignedChunk, at offset: Int, fd: Int32, done: @escaping @Sendable (Int32?) -> Void) {
        cond.lock()
        queue.append(Job(chunk: chunk, offset: offset, fd: fd, done: done))
        if !started {
            started = true
            for i in 0..<Self.threads {
                let t = Thread { [self] in work() }
                t.name = "sous-write-\(i)"
                t.start()
            }
        }
        cond.signal()
        cond.unlock()
    }

    private func work() {
        while true {
            cond.lock()
            while head == queue.count { cond.wait() }
            let job = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            cond.unlock()
            job.done(Self.write(job.chunk, at: job.offset, fd: job.fd))
        }
    }

    /// Writes the chunk's bytes, padded with zeros to a whole block; returns the `errno` of a failure.
    static func write(_ chunk: AlignedChunk, at offset: Int, fd: Int32) -> Int32? {
        guard chunk.count > 0 else { return nil }
        let padded = (chunk.count + AlignedChunk.alignment - 1) / AlignedChunk.alignment * AlignedChunk.alignment
        if padded > chunk.count { memset(chunk.base + chunk.count, 0, padded - chunk.count) }
        var done = 0
        var retriedBuffered = false
        while done < padded {
            let n = pwrite(fd, chunk.base + done, padded - done, off_t(offset + done))
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                if e == EINVAL && !retriedBuffered && directFlag != 0 {
                    // The file system took O_DIRECT at open but not this write: go on through the page cache.
                    retriedBuffered = true
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~directFlag)
                    continue
                }
                return e
            }
            done += n
        }
        return nil
    }
}

/// One file written in order through `DirectWriter`: bytes are gathered in chunks, each full chunk goes to the
/// writer threads, at most `maxInFlight` at once (the producer blocks until one is written). For a producer on a
/// thread of its own (a libcurl transfer thread); the local cloud's request handlers, which must not block,
/// use the chunks and `DirectWriter` directly.
public final class DirectFile: @unchecked Sendable {
    // @unchecked Sendable: `inFlight` and `failure` are only touched with `cond` held; `chunk` and `next` only
    // by the producer.
    public let fd: Int32
    /// Chunks handed to the writer and not yet written (4 MiB of memory per file at most, plus the one filling).
    public static let maxInFlight = 4
    private let cond = NSCondition()
    private var inFlight = 0
    private var failure: Int32?
    private var chunk: AlignedChunk
    /// Where `chunk` goes in the file (a multiple of the alignment).
    private var next: Int

    /// Writes to the open `fd` (from `DirectWriter.open`, without O_APPEND) from `offset`. Direct writes start on
    /// a block boundary, so when `offset` is not on one the bytes before it in that block are read back first.
    /// - Throws: `FileWriteError` when those bytes cannot be read.
    public init(fd: Int32, path: String, offset: Int) throws {
        self.fd = fd
        chunk = ChunkPool.shared.take()
        next = offset / AlignedChunk.alignment * AlignedChunk.alignment
        let head = offset - next
        if head > 0 {
            // The whole block is read (direct reads take whole blocks too); the file ends at `offset`.
            var got = 0
            while got < head {
                let n = pread(fd, chunk.base + got, AlignedChunk.alignment - got, off_t(next + got))
                if n < 0 && errno == EINTR { continue }
                // (A throwing init of a complete object runs deinit, which returns `chunk` to the pool.)
                guard n > 0 else { throw FileWriteError(path: path, code: n < 0 ? errno : EIO) }
                got += n
            }
            chunk.count = head
        }
    }

    /// Appends `bytes`; returns the `errno` of a failed write (this one's or an earlier chunk's).
    public func write(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        var rest = bytes
        while !rest.isEmpty {
            let n = chunk.fill(from: rest)
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if chunk.isFull, let err = submit() { return err }
        }
        return nil
    }

    /// The file's length: where the next byte goes.
    public var length: Int { next + chunk.count }

    /// Writes what is left, waits for every chunk, and sets the file's length (the last write was padded to a
    /// whole block). Returns the `errno` of the first failure.
    public func finish() -> Int32? {
        let length = self.length
        if chunk.count > 0 { _ = submit() }
        let err = drain()
        if let err { return err }
        return ftruncate(fd, off_t(length)) == 0 ? nil : errno
    }

    /// Waits until every chunk handed over is written (call it before the file is closed, whatever happened).
    /// Returns the `errno` of the first failure.
    @discardableResult
    public func drain() -> Int32? {
        cond.lock()
        while inFlight > 0 { cond.wait() }
        let err = failure
        cond.unlock()
        return err
    }

    deinit { ChunkPool.shared.give(chunk) }

    /// Hands the current chunk to the writer and takes a fresh one, waiting while `maxInFlight` are out.
    private func submit() -> Int32? {
        let full = chunk, offset = next
        next += full.count
        cond.lock()
        while inFlight >= Self.maxInFlight && failure == nil { cond.wait() }
        let failed = failure
        if failed == nil { inFlight += 1 }
        cond.unlock()
        chunk = ChunkPool.shared.take()  // taken once a chunk is free again: at most maxInFlight + 1 per file
        if let failed {
            ChunkPool.shared.give(full)
            return failed
        }
        DirectWriter.shared.write(full, at: offset, fd: fd) { [self] err in
            cond.lock()
            if let err, failure == nil { failure = err }
            inFlight -= 1
            cond.signal()
            cond.unlock()
            ChunkPool.shared.give(full)
        }
        return nil
    }
}
