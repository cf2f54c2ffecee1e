import Foundation
import HTTPTypes
import SousCrypto

/// Computes the MD5 of request bodies (S3's ETag) while they arrive, many bodies at once.
///
/// Every PutObject and UploadPart body needs its MD5 before the response can go out, and MD5 is the largest
/// CPU cost of receiving an upload (about 1.4 s per GB on one core with OpenSSL). Here a receiver hands over
/// each megabyte it has received (`add`, the chunk it also hands to the disk writer) and one worker thread
/// hashes what all the bodies in flight have handed over together, in the sixteen lanes of `MultiMD5` — a
/// fraction of the CPU of hashing them one by one. Middle chunks wait for a round of `roundTarget` bodies or
/// `window` (the bodies are still arriving, so nobody waits for them); a finished body (`finish`), or a
/// receiver out of chunks (`kick`), starts a round as soon as the worker is free.
final class MD5Batcher: @unchecked Sendable {
    // @unchecked Sendable: `pending`, `running` and `urgent` are only touched with `lock` held; a stream's
    // `state` only by the worker thread.
    static let shared = MD5Batcher()

    /// A round starts once this many bodies have bytes waiting (or a body is finished, or `window` passed).
    static let roundTarget = 12
    let window: Duration = .milliseconds(50)

    /// One body being hashed.
    final class Stream: @unchecked Sendable {
        var state = MultiMD5.State()
    }

    private struct Chunk {
        var stream: Stream
        var data: UnsafeRawBufferPointer
        /// Called once the chunk's bytes have been read.
        var release: @Sendable () -> Void
        /// Set on a body's last chunk: its total length and who waits for the digest.
        var final: (total: Int, done: CheckedContinuation<[UInt8], Never>)?
        var queued = ContinuousClock.now
    }

    private let lock = NSCondition()
    private var pending: [Chunk] = []
    private var running = false
    private var urgent = false

    /// Starts hashing a body.
    func open() -> Stream { Stream() }

    /// The next bytes of the body (a whole number of 64-byte blocks), valid until `release` is called.
    func add(_ s: Stream, _ data: UnsafeRawBufferPointer, release: @escaping @Sendable () -> Void) {
        precondition(data.count % 64 == 0, "MD5Batcher.add takes whole blocks")
        enqueue(Chunk(stream: s, data: data, release: release, final: nil))
    }

    /// The body's last bytes (`data`, valid until `release` is called), `total` bytes in all: its MD5.
    func finish(_ s: Stream, _ data: UnsafeRawBufferPointer, total: Int, release: @escaping @Sendable () -> Void) async -> [UInt8] {
        await withCheckedContinuation { (c: CheckedContinuation<[UInt8], Never>) in
            enqueue(Chunk(stream: s, data: data, release: release, final: (total, c)))
        }
    }

    /// A receiver waits for its chunks to come back: hash everything pending now.
    func kick() {
        lock.lock()
        urgent = true
        lock.signal()
        lock.unlock()
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
                if !pending.isEmpty && (urgent || pending.contains(where: { $0.final != nil })) {
                    // A complete body goes at once (its client waits), with the other bodies' waiting bytes.
                    round = takeRound()
                    urgent = false
                } else if let oldest = pending.first?.queued {
                    // Only middle chunks: nobody waits for them, so let more bodies' bytes join the round.
                    let deadline = oldest + window
                    if Set(pending.map { ObjectIdentifier($0.stream) }).count >= Self.roundTarget || ContinuousClock.now >= deadline {
                        round = takeRound()
                    } else {
                        let (secs, atto) = (deadline - ContinuousClock.now).components
                        _ = lock.wait(until: Date(timeIntervalSinceNow: Double(secs) + Double(atto) * 1e-18))
                    }
                } else {
                    urgent = false
                    lock.wait()
                }
            }
            lock.unlock()
            hash(round)
        }
    }

    /// The next round, taken from `pending` (lock held): every chunk of a finished body (its client waits) and
    /// the first waiting chunk of every other body. Lanes then run about the same length, so they stay full to
    /// the end; the chunks left behind go in the next round, which starts at once, with whatever arrived.
    private func takeRound() -> [Chunk] {
        let finishing = Set(pending.filter { $0.final != nil }.map { ObjectIdentifier($0.stream) })
        var seen = Set<ObjectIdentifier>()
        var round: [Chunk] = []
        var rest: [Chunk] = []
        for c in pending {
            let id = ObjectIdentifier(c.stream)
            if finishing.contains(id) || seen.insert(id).inserted {
                round.append(c)
            } else {
                rest.append(c)
            }
        }
        pending = rest
        return round
    }

    /// Hashes one round: each body's waiting chunks, in order, form one lane.
    private func hash(_ round: [Chunk]) {
        var perStream: [[Chunk]] = []
        var index: [ObjectIdentifier: Int] = [:]
        for c in round {
            if let i = index[ObjectIdentifier(c.stream)] {
                perStream[i].append(c)
            } else {
                index[ObjectIdentifier(c.stream)] = perStream.count
                perStream.append([c])
            }
        }
        var states = perStream.map { $0[0].stream.state }
        MultiMD5.update(&states, segments: perStream.map { chunks in
            chunks.map { UnsafeRawBufferPointer(rebasing: $0.data[0..<($0.data.count / 64 * 64)]) }
        })
        for (chunks, state) in zip(perStream, states) {
            let stream = chunks[0].stream
            stream.state = state
            var done: (CheckedContinuation<[UInt8], Never>, [UInt8])?
            if let last = chunks.last, let final = last.final {
                let tail = UnsafeRawBufferPointer(rebasing: last.data[(last.data.count / 64 * 64)...])
                done = (final.done, MultiMD5.finalize(state, tail: tail, totalLength: final.total))
            }
            for c in chunks { c.release() }
            if let (continuation, digest) = done { continuation.resume(returning: digest) }
        }
    }
}
