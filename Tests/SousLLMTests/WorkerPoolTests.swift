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
}
