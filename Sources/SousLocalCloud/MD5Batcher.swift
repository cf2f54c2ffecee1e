import Foundation
import HTTPTypes
import SousCrypto

/// Computes the MD5 of request bodies (S3's ETag) while they arrive, many bodies at once.
///
/// Every PutObject and UploadPart body needs its MD5 before the response can go out, and MD5 is the largest
/// CPU cost of receiving an upload (about 1.4 s per GB on one core with OpenSSL). Here a receiver hands over
/// each megabyte it has written (`advance`) and one worker thread hashes what all the bodies in flight have
/// handed over together, in the sixteen lanes of `MultiMD5` — a fraction of the CPU of hashing them one by
/// one. Middle chunks wait for a round of `roundTarget` bodies or `window` (the bodies are still arriving, so
/// nobody waits for them); a finished body (`finish`) goes as soon as the worker is free, with the other
/// finished ones.
final class MD5Batcher: @unchecked Sendable {
    // @unchecked Sendable: `pending` and `running` are only touched with `lock` held; a stream's `state`
    // and `failure` only by the worker thread, its `submitted` only by its receiver.
    static let shared = MD5Batcher()

    /// Bytes a receiver accumulates before handing them over.
    static let chunk = 1 << 20
    /// A round starts once this many bodies have bytes waiting (or a body is finished, or `window` passed).
    static let roundTarget = 12
    let window: Duration = .milliseconds(50)

    /// One body being hashed: the file it is written to, read back from the page cache by the worker.
    final class Stream: @unchecked Sendable {
        let fd: Int32
        let path: String
        var submitted = 0
        var state = MultiMD5.State()
        var failure: (any Error)?

        init(fd: Int32, path: String) {
            self.fd = fd
            self.path = path
        }

        deinit { close(fd) }
    }

    private struct Chunk {
        var stream: Stream
        var offset: Int
        var length: Int
        /// Set on a body's last chunk: its total length and who waits for the digest.
        var final: (total: Int, done: CheckedContinuation<[UInt8], any Error>)?
        var queued = ContinuousClock.now
    }

    private let lock = NSCondition()
    private var pending: [Chunk] = []
    private var running = false

    /// Starts hashing the body being written to `path`.
    func open(_ path: String) throws -> Stream {
        let fd = Foundation.open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ServiceError(.internalServerError, "InternalError", "The local cloud could not read back \(path) (errno \(errno)).")
        }
        return Stream(fd: fd, path: path)
    }

    /// The receiver has written `written` bytes of the body: hands over its whole blocks once a chunk is waiting.
    func advance(_ s: Stream, written: Int) {
        let ready = (written - s.submitted) / 64 * 64
        guard ready >= Self.chunk else { return }
        enqueue(Chunk(stream: s, offset: s.submitted, length: ready, final: nil))
        s.submitted += ready
    }

    /// The body is complete at `total` bytes: its MD5.
    func finish(_ s: Stream, total: Int) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<[UInt8], any Error>) in
            enqueue(Chunk(stream: s, offset: s.submitted, length: total - s.submitted, final: (total, c)))
            s.submitted = total
        }
    }

    private func enqueue(_ c: Chunk) {
        lock.lock()
        pending.append(c)
        if !running {
            running = true
            let t = Thread { [self] in work() }
            t.name = "sous-md5"
            t.start()
        }
        lock.signal()
        lock.unlock()
    }

    private func work() {
        while true {
            lock.lock()
            var round: [Chunk] = []
            while round.isEmpty {
                if pending.contains(where: { $0.final != nil }) {
                    // A complete body goes at once (its client waits), with every other body's waiting bytes.
                    round = pending
                    pending.removeAll()
                } else if let oldest = pending.first?.queued {
                    // Only middle chunks: nobody waits for them, so let more bodies' bytes join the round.
                    let deadline = oldest + window
                    if Set(pending.map { ObjectIdentifier($0.stream) }).count >= Self.roundTarget || ContinuousClock.now >= deadline {
                        round = pending
                        pending.removeAll()
                    } else {
                        let (secs, atto) = (deadline - ContinuousClock.now).components
                        _ = lock.wait(until: Date(timeIntervalSinceNow: Double(secs) + Double(atto) * 1e-18))
                    }
                } else {
                    lock.wait()
                }
            }
            lock.unlock()
            hash(round)
        }
    }

    /// Hashes one round: each body's waiting chunks (contiguous in its file) form one lane.
    private func hash(_ round: [Chunk]) {
        var lanes: [(stream: Stream, offset: Int, length: Int, final: (total: Int, done: CheckedContinuation<[UInt8], any Error>)?)] = []
        var index: [ObjectIdentifier: Int] = [:]
        for c in round {
            if let i = index[ObjectIdentifier(c.stream)] {
                lanes[i].length += c.length
                lanes[i].final = c.final
            } else {
                index[ObjectIdentifier(c.stream)] = lanes.count
                lanes.append((c.stream, c.offset, c.length, c.final))
            }
        }
        // Map each lane's bytes (whole pages around them) from the page cache.
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var maps: [(base: UnsafeMutableRawPointer?, size: Int, data: UnsafeRawBufferPointer)] = []
        for lane in lanes {
            guard lane.length > 0, lane.stream.failure == nil else {
                maps.append((nil, 0, UnsafeRawBufferPointer(start: nil, count: 0)))
                continue
            }
            let start = lane.offset / page * page
            let size = lane.offset + lane.length - start
            let p = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, lane.stream.fd, off_t(start))
            if p == MAP_FAILED || p == nil {
                lane.stream.failure = ServiceError(
                    .internalServerError, "InternalError", "The local cloud could not read back \(lane.stream.path) (errno \(errno)).")
                maps.append((nil, 0, UnsafeRawBufferPointer(start: nil, count: 0)))
            } else {
                maps.append((p, size, UnsafeRawBufferPointer(start: p! + (lane.offset - start), count: lane.length)))
            }
        }
        defer { for m in maps where m.base != nil { munmap(m.base, m.size) } }
        // A whole body in one lane with no state yet: plain digests (OpenSSL when few).
        let whole = lanes.indices.filter { lanes[$0].offset == 0 && lanes[$0].final != nil && lanes[$0].stream.failure == nil }
        let wholeSet = Set(whole)
        let wholeDigests = MultiMD5.digests(whole.map { maps[$0].data })
        // The others: their whole blocks through the lanes, then the last tails.
        let rest = lanes.indices.filter { !wholeSet.contains($0) && lanes[$0].stream.failure == nil }
        var states = rest.map { lanes[$0].stream.state }
        MultiMD5.update(&states, rest.map { i in
            let d = maps[i].data
            return UnsafeRawBufferPointer(rebasing: d[0..<(d.count / 64 * 64)])
        })
        for (k, i) in rest.enumerated() { lanes[i].stream.state = states[k] }
        for (i, lane) in lanes.enumerated() {
            guard let final = lane.final else { continue }
            if let failure = lane.stream.failure {
                final.done.resume(throwing: failure)
            } else if let w = whole.firstIndex(of: i) {
                final.done.resume(returning: wholeDigests[w])
            } else {
                let d = maps[i].data
                let tail = UnsafeRawBufferPointer(rebasing: d[(d.count / 64 * 64)...])
                final.done.resume(returning: MultiMD5.finalize(lane.stream.state, tail: tail, totalLength: final.total))
            }
        }
    }
}
