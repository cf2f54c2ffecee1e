import Foundation

/// Retry settings (`AWS_MAX_ATTEMPTS` / `max_attempts`, `AWS_RETRY_MODE` / `retry_mode`).
public struct AWSRetrySettings: Sendable, Equatable {
    public enum Mode: String, Sendable {
        case standard, legacy, adaptive
    }
    public var mode: Mode = .standard
    /// Total attempts including the first (≥ 1).
    public var maxAttempts: Int = 3

    /// `maxAttempts` nil = the mode's default (3 for standard/adaptive, 5 for legacy).
    public init(mode: Mode = .standard, maxAttempts: Int? = nil) {
        self.mode = mode
        self.maxAttempts = max(1, maxAttempts ?? (mode == .legacy ? 5 : 3))
    }
}
