import Foundation
import HTTPTypes
import SousBasics

/// The local cloud writes the bodies it receives around the page cache with SousBasics' `DirectWriter`
/// (see DirectIO.swift there for why); `FileSink` tracks one body's chunks, each held by the writer and the MD5
/// hasher at once, without blocking the request handler that fills them.

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

    /// Creates (truncates) the file at `path`, for direct writes where the file system allows them.
    init(path: String) throws {
        let fd = DirectWriter.open(path, flags: O_CREAT | O_WRONLY | O_TRUNC)
        guard fd >= 0 else {
            throw ServiceError(.internalServerError, "InternalError", "The local cloud could not create \(path) (errno \(errno)).")
        }
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
        DirectWriter.shared.write(chunk, at: offset, fd: fd) { [self] err in
            if let err {
                fail(ServiceError(.internalServerError, "InternalError", "The local cloud could not write \(path) (errno \(err)); is the disk full?"))
            }
            release(chunk)
        }
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
