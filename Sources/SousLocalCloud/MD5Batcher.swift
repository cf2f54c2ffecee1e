import Foundation
import HTTPTypes
import SousCrypto

/// Computes the MD5 of received bodies (S3's ETag) once they are on disk, several at a time.
///
/// Every PutObject and UploadPart body needs its MD5 before the response can go out, and MD5 is the largest
/// CPU cost of receiving an upload (about 1.4 s per GB on one core with OpenSSL). Bodies that arrive
/// together are hashed together instead: one worker thread takes every file waiting and runs them through
/// `MultiMD5`, sixteen lanes at a time, a fraction of the CPU of hashing them one by one. While other bodies
/// are still arriving (`beginReceive`), the worker waits for them to join the batch, up to 16 files or
/// `window` after the first one queued, like a group commit; a lone file is hashed alone with OpenSSL.
final class MD5Batcher: @unchecked Sendable {
    // @unchecked Sendable: `jobs` and `running` are only touched with `lock` held.
    static let shared = MD5Batcher()

    private struct Job {
        var path: String
        var size: Int
        var done: CheckedContinuation<[UInt8], any Error>
    }

    private let lock = NSCondition()
    private var jobs: [Job] = []
    private var running = false
    private var receiving = 0
    private var firstQueued = ContinuousClock.now
    /// A batch this large goes at once, while later bodies keep arriving (it need not wait for all of them).
    static let batchTarget = Int(ProcessInfo.processInfo.environment["SOUS_MD5_BATCH"] ?? "") ?? 8
    /// How long the first file of a batch may wait for the bodies still arriving.
    let window: Duration = .milliseconds(100)

    /// A body has started to arrive: its MD5 will be asked for (`md5(ofFile:size:)`) or the receive ends
    /// (`endReceive`).
    func beginReceive() {
        lock.lock()
        receiving += 1
        lock.unlock()
    }

    /// A body stopped arriving without asking for its MD5 (the request failed).
    func endReceive() {
        lock.lock()
        receiving -= 1
        lock.signal()
        lock.unlock()
    }

    /// The MD5 of the `size` bytes of the file at `path`.
    func md5(ofFile path: String, size: UInt64) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<[UInt8], any Error>) in
            lock.lock()
            receiving -= 1
            if jobs.isEmpty { firstQueued = ContinuousClock.now }
            jobs.append(Job(path: path, size: Int(size), done: c))
            if !running {
                running = true
                let t = Thread { [self] in work() }
                t.name = "sous-md5"
                t.start()
            }
            lock.signal()
            lock.unlock()
        }
    }

    private func work() {
        while true {
            lock.lock()
            while jobs.isEmpty { lock.wait() }
            // Let the bodies still arriving join, up to a full batch or the window.
            while jobs.count < Self.batchTarget && receiving > 0 {
                let left = window - (ContinuousClock.now - firstQueued)
                guard left > .zero else { break }
                let (secs, atto) = left.components
                _ = lock.wait(until: Date(timeIntervalSinceNow: Double(secs) + Double(atto) * 1e-18))
            }
            let batch = jobs
            jobs.removeAll()
            lock.unlock()
            hash(batch)
        }
    }

    private func hash(_ batch: [Job]) {
        var maps: [(UnsafeMutableRawPointer?, Int)] = []
        var failed: [Int: any Error] = [:]
        for (i, job) in batch.enumerated() {
            guard job.size > 0 else {
                maps.append((nil, 0))
                continue
            }
            let fd = open(job.path, O_RDONLY)
            let p = fd >= 0 ? mmap(nil, job.size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : MAP_FAILED
            let err = errno
            if fd >= 0 { close(fd) }
            if p == MAP_FAILED || p == nil {
                failed[i] = ServiceError(.internalServerError, "InternalError", "The local cloud could not read back \(job.path) (errno \(err)).")
                maps.append((nil, 0))
            } else {
                maps.append((p, job.size))
            }
        }
        let digests = MultiMD5.digests(maps.map { UnsafeRawBufferPointer(start: $0.0, count: $0.1) })
        for (p, n) in maps where p != nil { munmap(p, n) }
        for (i, job) in batch.enumerated() {
            if let e = failed[i] { job.done.resume(throwing: e) } else { job.done.resume(returning: digests[i]) }
        }
    }
}
