import Foundation
import HTTPTypes

/// Writing received bodies to disk around the page cache (O_DIRECT), from page-aligned chunks the receivers fill.
///
/// A buffered write() of a new file copies every byte into freshly allocated page-cache pages, and on a VM
/// whose host backs guest memory lazily that first touch of a page costs several times the copy itself
/// (measured here: 2.9–4.8 s of system CPU to write 2 GiB with `dd`, against 0.22 s with `oflag=direct`).
/// Written directly, the same bytes go from a few recycled 1 MiB chunks to the device; the server's CPU
/// stays on receiving and hashing, and uploads do not fill the page cache with data nobody reads back soon.
/// Where the file system refuses O_DIRECT (tmpfs), the same path writes through the page cache.

/// One megabyte of page-aligned memory: a receiver fills it, then the writer and the MD5 hasher both read it.
final class AlignedChunk: @unchecked Sendable {
    // @unchecked Sendable: `count` is set by the receiver before the chunk is handed over, and `holders` only
    // changes with the owning `FileSink`'s lock held; the memory is read-only while handed over.
    static let size = 1 << 20
    /// Direct I/O needs offsets, lengths and addresses aligned to the device's logical block size.
    static let alignment = 4096
    let base: UnsafeMutableRawPointer
    var count = 0
    var holders = 0

    init() {
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, Self.alignment, Self.size) == 0, let p else {
            fatalError("out of memory allocating a 1 MiB upload buffer")
        }
        base = p
    }

    deinit { free(base) }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// Chunks recycled across bodies, so the memory they use is touched once rather than once per upload.
final class ChunkPool: @unchecked Sendable {
    // @unchecked Sendable: `free` is only touched with `lock` held.
    static let shared = ChunkPool()
    /// Chunks kept for reuse (64 MiB); more in flight at once are freed when they come back.
    static let keep = 64
    private let lock = NSLock()
    private var free: [AlignedChunk] = []

    func take() -> AlignedChunk {
        lock.lock()
        let c = free.popLast()
        lock.unlock()
        let chunk = c ?? AlignedChunk()
        chunk.count = 0
        return chunk
    }

    func give(_ c: AlignedChunk) {
        lock.lock()
        if free.count < Self.keep { free.append(c) }
        lock.unlock()
    }
}

/// The file one body is written to, and the chunks of it still being written or hashed.
final class FileSink: @unchecked Sendable {
    // @unchecked Sendable: `inFlight`, `waiter`, `waitingFor`, `failure` and every chunk's `holders` are only
    // touched with `lock` held; `fd` and `path` are immutable.
    let fd: Int32
    let path: String
    /// Chunks a body may have handed over and not got back (4 MiB of memory per body at most).
    static let maxInFlight = 4
    private let lock = NSLock()
    private var inFlight = 0
    private var waiter: CheckedContinuation<Void, Never>?
    private var waitingFor = 0
    private var failure: ServiceError?

    /// O_DIRECT where the platform has it (Linux; the value is per architecture and Swift's Glibc does not
    /// export it); elsewhere 0, and macOS turns caching off with F_NOCACHE instead.
    static let directFlag: Int32 = {
        #if os(Linux) && arch(x86_64)
            return 0o40000
        #elseif os(Linux) && arch(arm64)
            return 0o200000
        #else
            return 0
        #endif
    }()

    /// Creates (truncates) the file at `path`, for direct writes where the file system allows them.
    init(path: String) throws {
        var fd = Self.directFlag == 0 ? -1 : open(path, O_CREAT | O_WRONLY | O_TRUNC | Self.directFlag, 0o644)
        if fd < 0 { fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644) }  // EINVAL: no O_DIRECT here (tmpfs)
        guard fd >= 0 else {
            throw ServiceError(.internalServerError, "InternalError", "The local cloud could not create \(path) (errno \(errno)).")
        }
        #if canImport(Darwin)
            _ = fcntl(fd, F_NOCACHE, 1)
        #endif
        self.fd = fd
        self.path = path
    }

    /// Hands `chunk` (its `count` bytes at `offset` of the file) to the writer. The caller hands it to one more
    /// reader (the hasher), which must call `release(chunk)` once it has read it, as the writer does.
    func submit(_ chunk: AlignedChunk, offset: Int) {
        lock.lock()
        chunk.holders = 2
        inFlight += 1
        lock.unlock()
        DirectWriter.shared.write(chunk, at: offset, to: self)
    }

    /// A holder is done with `chunk`: it goes back to the pool once both are.
    func release(_ chunk: AlignedChunk) {
        lock.lock()
        chunk.holders -= 1
        guard chunk.holders == 0 else { return lock.unlock() }
        inFlight -= 1
        var wake: CheckedContinuation<Void, Never>?
        if let w = waiter, inFlight <= waitingFor {
            wake = w
            waiter = nil
        }
        lock.unlock()
        ChunkPool.shared.give(chunk)
        wake?.resume()
    }

    func fail(_ error: ServiceError) {
        lock.lock()
        if failure == nil { failure = error }
        lock.unlock()
    }

    /// The first write error, if any.
    var error: ServiceError? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    /// Waits until at most `n` chunks are still out (and asks the hasher not to hold any back meanwhile).
    func wait(untilAtMost n: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            lock.lock()
            if inFlight <= n {
                lock.unlock()
                c.resume()
                return
            }
            waiter = c
            waitingFor = n
            lock.unlock()
            MD5Batcher.shared.kick()
        }
    }

    /// Sets the file's final length (the last direct write was padded to a whole block) and closes it.
    func close(length: Int) throws {
        defer { _ = Foundation.close(fd) }
        if let failure = error { throw failure }
        guard ftruncate(fd, off_t(length)) == 0 else {
            throw ServiceError(.internalServerError, "InternalError", "The local cloud could not set the length of \(path) (errno \(errno)).")
        }
    }

    /// Closes the file without checking anything (the body failed; the caller removes the file).
    func abandon() { _ = Foundation.close(fd) }
}

/// A few threads that write chunks with pwrite: a direct write blocks for the device's time, which must not
/// hold up the threads that run request handlers.
final class DirectWriter: @unchecked Sendable {
    // @unchecked Sendable: `queue` and `started` are only touched with `cond` held.
    static let shared = DirectWriter()
    static let threads = 4
    private struct Job {
        var chunk: AlignedChunk
        var offset: Int
        var sink: FileSink
    }
    private let cond = NSCondition()
    private var queue: [Job] = []
    private var head = 0
    private var started = false

    func write(_ chunk: AlignedChunk, at offset: Int, to sink: FileSink) {
        cond.lock()
        queue.append(Job(chunk: chunk, offset: offset, sink: sink))
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
            if let error = Self.write(job.chunk, at: job.offset, fd: job.sink.fd, path: job.sink.path) { job.sink.fail(error) }
            job.sink.release(job.chunk)
        }
    }

    /// Writes the chunk's bytes, padded with zeros to a whole block (the sink truncates the file at the end).
    static func write(_ chunk: AlignedChunk, at offset: Int, fd: Int32, path: String) -> ServiceError? {
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
                if e == EINVAL && !retriedBuffered && FileSink.directFlag != 0 {
                    // The file system took O_DIRECT at open but not this write: go on through the page cache.
                    retriedBuffered = true
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~FileSink.directFlag)
                    continue
                }
                return ServiceError(
                    .internalServerError, "InternalError", "The local cloud could not write \(path) (errno \(e)); is the disk full?")
            }
            done += n
        }
        return nil
    }
}
