#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs blocking `work` (hashing a large file, `fsync`) on a thread of its own and returns its result.
///
/// The Swift concurrency pool is only as wide as the core count (two threads on CI): a task that blocks one
/// of them for seconds holds up every other task's continuations meanwhile, transfers included.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
        let job = Unmanaged.passRetained(OwnThreadJob { cont.resume(with: Result { try work() }) })
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<OwnThreadJob>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, job.toOpaque())
        if started == 0 {
            pthread_detach(thread)
        } else {
            job.takeRetainedValue().run()  // no thread to be had: run here rather than not at all
        }
    }
}

/// The closure a thread started by `onOwnThread` runs.
private final class OwnThreadJob: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
