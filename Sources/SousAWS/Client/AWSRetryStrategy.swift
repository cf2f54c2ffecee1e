import Foundation
import Synchronization

/// The "standard" retry strategy of the AWS SDKs (botocore `retries/standard.py`): which failures are retried,
/// how long to wait (full jitter, capped at 20 s) and a shared retry quota. `adaptive` behaves as `standard`;
/// `legacy` uses the same classification with 5 attempts by default.
public struct AWSRetryStrategy: Sendable {
    /// Total attempts including the first.
    public var maxAttempts: Int
    /// Cap of the exponential backoff.
    public var maxBackoff: Duration = .seconds(20)
    /// Random number in [0, 1) (injectable for tests).
    public var random: @Sendable () -> Double = { Double.random(in: 0..<1) }
    /// Sleeps between attempts (injectable for tests).
    public var sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    /// Shared retry token bucket; nil = unlimited retries (within `maxAttempts`).
    public var quota: AWSRetryQuota?

    public init(settings: AWSRetrySettings, quota: AWSRetryQuota? = AWSRetryQuota()) {
        maxAttempts = settings.maxAttempts
        self.quota = quota
    }

    public init(maxAttempts: Int, quota: AWSRetryQuota? = nil) {
        self.maxAttempts = max(1, maxAttempts)
        self.quota = quota
    }

    /// The failure classes the strategy distinguishes.
    public enum Failure: Sendable {
        /// A transport error; `transient` = connect/reset/timeout.
        case transport(transient: Bool, timeout: Bool)
        /// A service error.
        case service(AWSError)
    }

    /// Whether this failure class is retryable at all.
    public static func isRetryable(_ failure: Failure) -> Bool {
        switch failure {
        case .transport(let transient, _): return transient
        case .service(let e): return e.isRetryable
        }
    }

    /// Delay before retry number `retry` (1 = the first retry): `random × min(2^(retry-1), cap)` seconds.
    public func delay(beforeRetry retry: Int) -> Duration {
        let base = min(pow(2.0, Double(max(0, retry - 1))), Double(maxBackoff.components.seconds))
        return .milliseconds(Int64((random() * base * 1000).rounded()))
    }
}
