import Foundation
import Synchronization

/// Persistent worker threads for `Parallel.run`, replacing a `DispatchQueue.concurrentPerform` per matmul.
///
/// A decode step has ~5 parallel regions per layer that each last tens of microseconds; waking a
/// sleeping thread through the kernel for every one of them costs more than the region gains. These
/// workers spin on an atomic ticket between regions for as long as the caller is running (see
/// `SpinPolicy`) and park on a condition variable otherwise. The caller works on chunks too, so a
/// worker that is not scheduled only means the caller does more of them. Once out of chunks, the caller
/// waits for the ones workers hold the same way: it spins while a worker runs and sleeps until the last
/// chunk is done otherwise (a worker descheduled in the middle of a chunk).
///
/// A worker descheduled in the middle of a chunk holds up the whole region until the scheduler runs it again,
/// which on a loaded machine is milliseconds later. The caller runs the regions of the next `soloNanoseconds`
/// (5 ms) alone after it slept for such a worker and the worker then ran for less than half of the time until
/// its chunk was done (held back, not briefly interrupted: on an idle machine interrupts and kernel threads
/// stop a worker for some microseconds about once per token, after which it finishes its chunk at full speed),
/// and also when the caller itself got less than 80 % of a core over the last 2 ms (`CallerShare`): on a
/// machine that has no core to spare, the workers' share of the CPU buys no speed (Linux shares CPU time
/// between sessions, so a worker's time is taken from its own caller), and a region the caller runs alone
/// never waits for a thread that is not running.
///
/// `@unchecked Sendable`: `job` is written by the caller before it publishes a ticket (sequentially
/// consistent store) and read by workers only after they claim a chunk of that ticket; the caller does
/// not replace it until every claimed chunk is done (`pending` reaches zero).
final class WorkerPool: @unchecked Sendable {
    private let ticket = Atomic<UInt64>(0)  // epoch << 40 | count << 20 | next index
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    /// The CPU-time clock of the thread that published the latest region (`SpinPolicy.currentThreadClock`).
    private let callerClock = Atomic<Int>(SpinPolicy.noClock)
    /// The workers' CPU-time clocks, added as they start.
    private let workerClocks = Mutex<[Int]>([])
    /// Set while the caller sleeps on `finished` for the last chunks of a region.
    private let callerWaiting = Atomic<Bool>(false)
    /// When (monotonic nanoseconds; 0: not yet) the chunk the sleeping caller waits for ended, and the workers'
    /// CPU time then (`UInt64.max`: no clock).
    private let lastChunkEnd = Atomic<UInt64>(0)
    private let lastChunkCPU = Atomic<UInt64>(0)
    private let finished = NSCondition()
    private let stopped = Atomic<Bool>(false)
    private let busy = Atomic<Bool>(false)
    private let condition = NSCondition()
    nonisolated(unsafe) private var job: (@Sendable (Int) -> Void)?
    private var epoch: UInt64 = 0  // only touched by the caller holding `busy`
    /// Until when (monotonic nanoseconds) regions run on the caller alone; 0: not solo. Only touched by the
    /// caller holding `busy`.
    private var soloUntil: UInt64 = 0
    private var share = CallerShare()  // only touched by the caller holding `busy`
    private let soloNanoseconds: UInt64
    static let maxChunks = 1 << 20 - 1

    init(workers: Int, soloNanoseconds: UInt64 = 5_000_000) {
        self.soloNanoseconds = soloNanoseconds
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
        let now = DispatchTime.now().uptimeNanoseconds
        let clock = SpinPolicy.currentThreadClock()
        if soloUntil == 0, share.starved(now: now, clock: clock, cpuTime: SpinPolicy.cpuTime(clock)) {
            soloUntil = now + soloNanoseconds
        }
        if soloUntil != 0 {
            if now < soloUntil {
                for i in 0..<n { body(i) }
                return true
            }
            soloUntil = 0
            share = CallerShare()
        }
        job = body
        callerClock.store(clock, ordering: .relaxed)
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
        var policy = SpinPolicy()
        while pending.load(ordering: .acquiring) > 0 {
            if policy.shouldPark(cpuTime: workersCPUTime()) {
                // A worker stopped in the middle of a chunk: how much it runs while the caller sleeps tells a
                // brief interruption (an interrupt, a kernel thread; it then finishes the chunk at full speed)
                // from a worker the scheduler holds back. Judged up to the end of that chunk (`chunkDone`), not
                // the caller's wake-up: the worker spins in between.
                let parked = policy.otherStopped ? (time: DispatchTime.now().uptimeNanoseconds, cpu: workersCPUTime()) : nil
                lastChunkEnd.store(0, ordering: .sequentiallyConsistent)
                finished.lock()
                callerWaiting.store(true, ordering: .sequentiallyConsistent)
                while pending.load(ordering: .sequentiallyConsistent) > 0 { finished.wait() }
                callerWaiting.store(false, ordering: .sequentiallyConsistent)
                finished.unlock()
                let end = lastChunkEnd.load(ordering: .sequentiallyConsistent)
                if let parked, let before = parked.cpu, end != 0, end >= parked.time {
                    let after = lastChunkCPU.load(ordering: .sequentiallyConsistent)
                    if after != .max && !SpinPolicy.ran(from: before, to: after, over: end - parked.time) {
                        soloUntil = DispatchTime.now().uptimeNanoseconds + soloNanoseconds
                    }
                }
            }
        }
        job = nil
        return true
    }

    /// Whether the caller sleeps for the last chunks of a region (for tests).
    var callerIsWaiting: Bool { callerWaiting.load(ordering: .relaxed) }

    /// Whether the next region runs on the caller alone (for tests; call between regions).
    var isSolo: Bool { soloUntil != 0 && DispatchTime.now().uptimeNanoseconds < soloUntil }

    /// The CPU time all workers have used (nil without per-thread clocks).
    private func workersCPUTime() -> UInt64? {
        workerClocks.withLock { clocks in
            clocks.reduce(UInt64(0) as UInt64?) { sum, clock in
                guard let sum, let t = SpinPolicy.cpuTime(clock) else { return nil }
                return sum + t
            }
        }
    }

    /// Counts a worker's chunk as done, waking the caller if it sleeps for the last one.
    private func chunkDone() {
        if pending.subtract(1, ordering: .sequentiallyConsistent).newValue == 0
            && callerWaiting.load(ordering: .sequentiallyConsistent)
        {
            lastChunkCPU.store(workersCPUTime() ?? .max, ordering: .sequentiallyConsistent)
            lastChunkEnd.store(DispatchTime.now().uptimeNanoseconds, ordering: .sequentiallyConsistent)
            finished.lock()
            finished.broadcast()
            finished.unlock()
        }
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
        let clock = SpinPolicy.currentThreadClock()
        workerClocks.withLock { $0.append(clock) }
        var seen: UInt64 = 0
        while !stopped.load(ordering: .relaxed) {
            var t = ticket.load(ordering: .acquiring)
            var policy = SpinPolicy()
            while t >> 40 == seen {
                if stopped.load(ordering: .relaxed) { return }
                if policy.shouldPark(cpuTime: SpinPolicy.cpuTime(callerClock.load(ordering: .relaxed))) {
                    park(seen: seen)
                    policy = SpinPolicy()
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
                    chunkDone()
                }
            }
        }
    }
}

/// Whether the thread that publishes regions got less than `minimum` of a core over the last window of
/// `windowNanoseconds` (descheduled in favour of other work: the machine has no core to spare).
struct CallerShare {
    static let windowNanoseconds: UInt64 = 2_000_000
    static let minimum = 0.8
    private var start: UInt64 = 0
    private var startCPU: UInt64 = 0
    private var clock = SpinPolicy.noClock

    /// Called at each region with the monotonic time, the caller's CPU clock and its CPU time (nil: no clock);
    /// true once a window shows the caller starved. A window restarts when the caller changes, and a gap of
    /// over four windows between regions (a caller idle between requests) is not judged.
    mutating func starved(now: UInt64, clock c: Int, cpuTime read: @autoclosure () -> UInt64?) -> Bool {
        if start != 0 && c == clock && now - start < Self.windowNanoseconds { return false }
        guard let cpu = read() else { return false }
        defer { (start, startCPU, clock) = (now, cpu, c) }
        guard start != 0, c == clock, cpu >= startCPU, now - start <= 4 * Self.windowNanoseconds else { return false }
        return Double(cpu - startCPU) < Self.minimum * Double(now - start)
    }
}

/// When a thread waiting on another one stops spinning and sleeps: a worker waiting for the caller's next
/// region, or the caller waiting for the workers' last chunks.
///
/// It spins while the other side runs: then the next region is at most a few serial steps away (almost
/// always under 3 µs), or a chunk is being finished, and a thread that slept would resume late (a wake-up
/// through the kernel takes tens of microseconds, more on a busy machine). It sleeps as soon as the other
/// side has had less than half of the last `checkNanoseconds` of CPU time: it was descheduled, blocked,
/// or went on to other work. Spinning then would only take CPU time from it, because Linux shares CPU
/// time between sessions (autogroups), not threads: a thread spinning on one core shrinks the share of
/// its own process's threads on the other on a loaded machine. `maxSpinNanoseconds` bounds the spin in any
/// case. Without per-thread CPU clocks (not Linux) the spin always lasts that long.
struct SpinPolicy {
    static let checkNanoseconds: UInt64 = 10_000
    static let maxSpinNanoseconds: UInt64 = 1_000_000
    static let noClock = -1
    private var polls = 0
    private var start: UInt64 = 0
    private var checkedAt: UInt64 = 0
    private var otherCPU: UInt64 = 0
    /// Whether the last `shouldPark` that returned true did so because the other side was not running (not
    /// because the spin reached `maxSpinNanoseconds`).
    private(set) var otherStopped = false

    /// Called on every poll with the other side's CPU time (nil: no clock); reads the clocks every 64th.
    mutating func shouldPark(cpuTime read: @autoclosure () -> UInt64?) -> Bool {
        polls += 1
        guard polls & 63 == 0 else { return false }
        return shouldPark(now: DispatchTime.now().uptimeNanoseconds, cpuTime: read())
    }

    /// The decision at monotonic time `now` (nanoseconds), given a reader of the other side's CPU time,
    /// called only when it is due.
    mutating func shouldPark(now: UInt64, cpuTime read: @autoclosure () -> UInt64?) -> Bool {
        guard start != 0 else {
            (start, checkedAt, otherCPU) = (now, now, read() ?? 0)
            return false
        }
        if now - start >= Self.maxSpinNanoseconds {
            otherStopped = false
            return true
        }
        guard now - checkedAt >= Self.checkNanoseconds, let cpu = read() else { return false }
        let running = Self.ran(from: otherCPU, to: cpu, over: now - checkedAt)
        (checkedAt, otherCPU) = (now, cpu)
        otherStopped = !running
        return !running
    }

    /// Whether a thread whose CPU time went from `before` to `after` over `wall` nanoseconds ran for at least
    /// half of them. A clock that went back belongs to another thread (a new caller, an exited worker): not running.
    static func ran(from before: UInt64, to after: UInt64, over wall: UInt64) -> Bool {
        after >= before && (after - before) * 2 >= wall
    }

    /// The calling thread's CPU-time clock id, or `noClock`.
    static func currentThreadClock() -> Int {
        #if os(Linux)
            var clock = clockid_t()
            return pthread_getcpuclockid(pthread_self(), &clock) == 0 ? Int(clock) : noClock
        #else
            return noClock
        #endif
    }

    /// CPU time consumed by the thread of `clock` in nanoseconds (0 once that thread has exited), or nil
    /// without a clock.
    static func cpuTime(_ clock: Int) -> UInt64? {
        #if os(Linux)
            guard clock != noClock else { return nil }
            var ts = timespec()
            guard clock_gettime(clockid_t(clock), &ts) == 0 else { return 0 }
            return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        #else
            return nil
        #endif
    }
}
