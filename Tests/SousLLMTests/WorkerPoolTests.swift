import Foundation
import Synchronization
@testable import SousLLM
import Testing

@Suite("Llama runtime: worker pool")
struct WorkerPoolTests {
    @Test("every chunk of every region runs exactly once, across many back-to-back regions")
    func chunksRunOnce() {
        let pool = WorkerPool(workers: 2)
        defer { pool.shutdown() }
        let parallel = Parallel(threads: 3, pool: pool)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        defer { counts.deallocate() }
        let p = SendablePointer(counts)
        for region in 0..<2000 {
            let n = 1 + region % 64
            counts.initialize(repeating: 0, count: 64)
            // Each chunk writes only its own slot.
            parallel.run(n) { i in p.p[i] += 1 }
            #expect((0..<n).allSatisfy { counts[$0] == 1 }, "region \(region): a chunk ran zero or several times")
            #expect((n..<64).allSatisfy { counts[$0] == 0 })
        }
    }

    @Test("a pool in use by another caller declines, and Parallel falls back to concurrentPerform")
    func busyPoolDeclines() {
        let pool = WorkerPool(workers: 1)
        defer { pool.shutdown() }
        let inner = Atomic<Int>(-1)
        let outerRan = pool.run(2) { i in
            if i == 0 { inner.store(pool.run(2) { _ in } ? 1 : 0, ordering: .relaxed) }
        }
        #expect(outerRan)
        #expect(inner.load(ordering: .relaxed) == 0)
        let total = Atomic<Int>(0)
        let parallel = Parallel(threads: 2, pool: pool)
        parallel.run(2) { i in
            if i == 0 { parallel.run(8) { _ in total.add(1, ordering: .relaxed) } }
        }
        #expect(total.load(ordering: .relaxed) == 8)
    }

    /// Runs a two-chunk region on `pool` (one worker) in which the worker's chunk blocks until the caller sleeps
    /// for it, then computes for `busyAfterRelease` seconds; returns whether the worker took its chunk and whether
    /// the caller was seen sleeping.
    static func regionWithStoppedWorker(_ pool: WorkerPool, busyAfterRelease: TimeInterval) -> (started: Bool, slept: Bool) {
        let caller = pthread_self()
        let workerStarted = Atomic<Bool>(false)
        let release = DispatchSemaphore(value: 0)
        let sawCallerSleeping = Atomic<Bool>(false)
        // Releases the worker once the caller sleeps (or, if it never does, after 10 s so the test ends).
        let watcher = Thread {
            let deadline = Date().addingTimeInterval(10)
            while !pool.callerIsWaiting && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
            sawCallerSleeping.store(pool.callerIsWaiting, ordering: .relaxed)
            release.signal()
        }
        watcher.start()
        let ran = pool.run(2) { _ in
            if pthread_equal(pthread_self(), caller) != 0 {
                // The caller's chunk lasts until the worker holds the other one.
                let deadline = Date().addingTimeInterval(10)
                while !workerStarted.load(ordering: .acquiring) && Date() < deadline {}
            } else {
                workerStarted.store(true, ordering: .releasing)
                release.wait()  // stopped: uses no CPU time
                let end = Date().addingTimeInterval(busyAfterRelease)
                while Date() < end {}  // then runs on the CPU
            }
        }
        #expect(ran)
        return (workerStarted.load(ordering: .relaxed), sawCallerSleeping.load(ordering: .relaxed))
    }

    @Test("a caller whose worker is blocked in the last chunk sleeps, that chunk's end wakes it, and the next regions run on the caller alone")
    func callerSleepsForBlockedWorker() throws {
        // A solo period far longer than the test, so the checks below do not race the clock.
        let pool = WorkerPool(workers: 1, soloNanoseconds: 600_000_000_000)
        defer { pool.shutdown() }
        let (started, slept) = Self.regionWithStoppedWorker(pool, busyAfterRelease: 0)
        #expect(started, "the worker took no chunk")
        #expect(slept, "the caller spun instead of sleeping")
        #expect(!pool.callerIsWaiting)
        #expect(pool.isSolo, "a worker that stopped in a chunk did not make the caller go solo")
        let caller = pthread_self()
        let onCaller = Atomic<Int>(0)
        #expect(pool.run(8) { _ in if pthread_equal(pthread_self(), caller) != 0 { onCaller.add(1, ordering: .relaxed) } })
        #expect(onCaller.load(ordering: .relaxed) == 8, "a solo region ran chunks on a worker")
    }

    @Test("a worker stopped briefly in its chunk, then running for most of the caller's sleep, does not make the caller go solo")
    func briefStopKeepsSharing() throws {
        // Stopped until the watcher sees the caller asleep (about 1 ms), then 200 ms on the CPU. On a loaded
        // machine the scheduler may hold the worker back for real (then going solo is right), so up to five
        // attempts; before this rule every one of them went solo.
        var solo: [Bool] = []
        while solo.count < 5 && solo.last != false {
            let pool = WorkerPool(workers: 1, soloNanoseconds: 600_000_000_000)
            let (started, slept) = Self.regionWithStoppedWorker(pool, busyAfterRelease: 0.2)
            #expect(started, "the worker took no chunk")
            #expect(slept, "the caller spun instead of sleeping")
            solo.append(pool.isSolo)
            pool.shutdown()
        }
        #expect(solo.last == false, "a worker that ran for most of the caller's sleep made the caller go solo (\(solo.count) tries)")
    }
}

@Suite("Llama runtime: worker spin policy")
struct SpinPolicyTests {
    /// Feeds `policy` polls 2 µs apart from t = 1 ms on, the caller's CPU time advancing by `cpuPerPoll` each
    /// (nil: no clock); returns the spin time at which it parked, or nil if it kept spinning for 2 ms.
    static func parkTime(cpuPerPoll: UInt64?) -> UInt64? {
        var policy = SpinPolicy()
        let t0: UInt64 = 1_000_000
        var cpu: UInt64 = 50_000
        var t = t0
        while t - t0 <= 2_000_000 {
            if policy.shouldPark(now: t, cpuTime: cpuPerPoll.map { _ in cpu }) { return t - t0 }
            t += 2_000
            cpu += cpuPerPoll ?? 0
        }
        return nil
    }

    /// `otherStopped` when `policy` parks under the same feed as `parkTime`.
    static func parkReason(cpuPerPoll: UInt64) -> Bool? {
        var policy = SpinPolicy()
        var t: UInt64 = 1_000_000
        var cpu: UInt64 = 50_000
        while t <= 3_000_000 {
            if policy.shouldPark(now: t, cpuTime: cpu) { return policy.otherStopped }
            t += 2_000
            cpu += cpuPerPoll
        }
        return nil
    }

    @Test("a worker spins while its caller runs, parks within one check once the caller stops, and after 1 ms in any case")
    func parksWhenCallerStops() throws {
        // Caller on the CPU all the time, or 60 % of it: spin up to the cap.
        #expect(Self.parkTime(cpuPerPoll: 2_000) == SpinPolicy.maxSpinNanoseconds)
        #expect(Self.parkTime(cpuPerPoll: 1_200) == SpinPolicy.maxSpinNanoseconds)
        // Caller descheduled or blocked (no CPU time, or 40 %): park at the first check.
        let check = (SpinPolicy.checkNanoseconds + 1_999) / 2_000 * 2_000
        #expect(Self.parkTime(cpuPerPoll: 0) == check)
        #expect(Self.parkTime(cpuPerPoll: 800) == check)
        // No per-thread clock: spin up to the cap.
        #expect(Self.parkTime(cpuPerPoll: nil) == SpinPolicy.maxSpinNanoseconds)
        // Why it parked: the other side stopped, or the cap.
        #expect(Self.parkReason(cpuPerPoll: 0) == true)
        #expect(Self.parkReason(cpuPerPoll: 2_000) == false)
    }

    @Test("a caller with less than 80 % of a core over a 2 ms window is starved; a new caller starts a new window")
    func callerShare() {
        let w = CallerShare.windowNanoseconds
        var share = CallerShare()
        // (time since the start, caller clock, its CPU time) per region, and whether that region finds it starved.
        let feed: [(UInt64, Int, UInt64, Bool)] = [
            (0, 7, 500, false),
            (w / 2, 7, 500, false),  // within the window: not checked
            (w, 7, 500 + w * 9 / 10, false),  // 90 % of the window on the CPU
            (2 * w, 7, 500 + w * 9 / 10 + w / 2, true),  // 50 % of the next one
            (3 * w, 8, 0, false),  // another thread's clock: a new window, whatever its CPU time
            (4 * w, 8, w / 10, true),
            (9 * w, 8, w / 10, false),  // idle for longer than four windows: not judged, a new window
            (10 * w, 8, w / 10 + w / 2, true),
        ]
        for (i, (t, clock, cpu, want)) in feed.enumerated() {
            let got = share.starved(now: 1_000_000 + t, clock: clock, cpuTime: cpu)
            #expect(got == want, "region \(i)")
        }
        // No clock: never starved.
        var none = CallerShare()
        let first = none.starved(now: 1, clock: SpinPolicy.noClock, cpuTime: nil)
        let second = none.starved(now: 1 + 2 * w, clock: SpinPolicy.noClock, cpuTime: nil)
        #expect(!first && !second)
    }

    @Test("the calling thread's CPU clock advances while it computes")
    func callerClock() throws {
        #if os(Linux)
            let clock = SpinPolicy.currentThreadClock()
            let before = try #require(SpinPolicy.cpuTime(clock))
            var x: UInt64 = 1
            for i in 0..<5_000_000 { x = x &* 6_364_136_223_846_793_005 &+ UInt64(i) }
            #expect(x != 0)
            #expect(try #require(SpinPolicy.cpuTime(clock)) > before)
        #else
            #expect(SpinPolicy.cpuTime(SpinPolicy.currentThreadClock()) == nil)
        #endif
    }
}
