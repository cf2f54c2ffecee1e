import Foundation
import Synchronization

/// Persistent worker threads for `Parallel.run`, replacing a `DispatchQueue.concurrentPerform` per matmul.
///
/// A decode step has ~4 parallel regions per layer that each last tens of microseconds; waking
/// libdispatch workers through the kernel for every one of them cost 13–19 % on the 15M shape with 2
/// threads. These workers spin on an atomic ticket between regions and park on a condition variable
/// once they have polled for `spinNanoseconds` without a new region. That is long enough to bridge the
/// serial steps between the regions of a token (almost all under 3 µs) and short enough that a worker
/// whose caller was descheduled does not burn the CPU time the caller needs: Linux shares CPU time
/// between sessions (autogroups), so on a loaded machine every microsecond a worker spins is taken from
/// its own caller (spinning up to ~200 µs made 2 threads 40 % slower than 1 there). The caller works on
/// chunks too, so a worker that is not scheduled only means the caller does more of them.
///
/// `@unchecked Sendable`: `job` is written by the caller before it publishes a ticket (sequentially
/// consistent store) and read by workers only after they claim a chunk of that ticket; the caller does
/// not replace it until every claimed chunk is done (`pending` reaches zero).
final class WorkerPool: @unchecked Sendable {
    private let ticket = Atomic<UInt64>(0)  // epoch << 40 | count << 20 | next index
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let busy = Atomic<Bool>(false)
    private let condition = NSCondition()
    nonisolated(unsafe) private var job: (@Sendable (Int) -> Void)?
    private var epoch: UInt64 = 0  // only touched by the caller holding `busy`
    static let spinNanoseconds: UInt64 = 20_000
    static let maxChunks = 1 << 20 - 1

    init(workers: Int) {
        for _ in 0..<max(workers, 0) {
            let t = Thread { [self] in self.workerLoop() }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    /// Stops the workers (they exit once parked or between regions).
    func shutdown() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `body(i)` for i in 0..<n on the caller and the workers; false (nothing run) when the pool is
    /// already in use by another caller or n does not fit a ticket.
    func run(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
        guard n > 0, n <= WorkerPool.maxChunks,
            busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        defer { busy.store(false, ordering: .releasing) }
        job = body
        pending.store(n, ordering: .sequentiallyConsistent)
        epoch = (epoch + 1) & 0xff_ffff
        let e = epoch
        ticket.store(e << 40 | UInt64(n) << 20, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
        work(epoch: e, body)
        var spins = 0
        while pending.load(ordering: .acquiring) > 0 {
            spins += 1
            if spins > 1000 { sched_yield() }
        }
        job = nil
        return true
    }

    /// Claims and runs chunks of ticket epoch `e` until none is left.
    private func work(epoch e: UInt64, _ body: (Int) -> Void) {
        while true {
            let t = ticket.load(ordering: .acquiring)
            guard t >> 40 == e else { return }
            let index = t & 0xf_ffff
            guard index < (t >> 20) & 0xf_ffff else { return }
            if ticket.compareExchange(expected: t, desired: t + 1, ordering: .acquiringAndReleasing).exchanged {
                body(Int(index))
                pending.subtract(1, ordering: .releasing)
            }
        }
    }

    /// Runs chunk `i` of the current job; the closure reference is dropped when this returns, before the
    /// chunk is counted as done (the caller's `withoutActuallyEscaping` checks nothing kept it).
    @inline(never)
    private func runJob(_ i: Int) {
        if let body = job { body(i) }
    }

    /// Sleeps until a region newer than epoch `seen` is published or the pool stops.
    private func park(seen: UInt64) {
        condition.lock()
        sleepers.add(1, ordering: .sequentiallyConsistent)
        while ticket.load(ordering: .sequentiallyConsistent) >> 40 == seen && !stopped.load(ordering: .sequentiallyConsistent) {
            condition.wait()
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        condition.unlock()
    }

    private func workerLoop() {
        var seen: UInt64 = 0
        while !stopped.load(ordering: .relaxed) {
            var t = ticket.load(ordering: .acquiring)
            var spins = 0
            var spinStart: UInt64 = 0
            while t >> 40 == seen {
                if stopped.load(ordering: .relaxed) { return }
                spins += 1
                // The clock is read every 64 polls (a poll takes about a nanosecond).
                if spins & 63 == 0 {
                    let now = DispatchTime.now().uptimeNanoseconds
                    if spinStart == 0 { spinStart = now }
                    if now - spinStart >= WorkerPool.spinNanoseconds {
                        park(seen: seen)
                        spinStart = 0
                    }
                }
                t = ticket.load(ordering: .acquiring)
            }
            seen = t >> 40
            // Claim a chunk first; only then is `job` guaranteed to belong to this epoch.
            while true {
                let t = ticket.load(ordering: .acquiring)
                guard t >> 40 == seen, t & 0xf_ffff < (t >> 20) & 0xf_ffff else { break }
                if ticket.compareExchange(expected: t, desired: t + 1, ordering: .acquiringAndReleasing).exchanged {
                    runJob(Int(t & 0xf_ffff))
                    pending.subtract(1, ordering: .releasing)
                }
            }
        }
    }
}
