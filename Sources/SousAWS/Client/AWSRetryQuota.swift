import Foundation
import Synchronization

/// The SDK retry quota: a token bucket of 500; a retry costs 5 (10 after a timeout); a success without
/// retries refunds 1, a success after retries refunds what it took.
public final class AWSRetryQuota: Sendable {
    private let tokens: Mutex<Int>
    public let capacity: Int

    public init(capacity: Int = 500) {
        self.capacity = capacity
        tokens = Mutex(capacity)
    }

    /// Takes the cost of one retry; false when the bucket is empty (stop retrying).
    public func acquire(timeout: Bool) -> Int? {
        let cost = timeout ? 10 : 5
        return tokens.withLock { t in
            guard t >= cost else { return nil }
            t -= cost
            return cost
        }
    }

    /// Returns tokens after a success (`spent` = what the request's retries took, 0 = none).
    public func release(spent: Int) {
        let refund = spent == 0 ? 1 : spent
        tokens.withLock { $0 = min(capacity, $0 + refund) }
    }

    public var available: Int { tokens.withLock { $0 } }
}
