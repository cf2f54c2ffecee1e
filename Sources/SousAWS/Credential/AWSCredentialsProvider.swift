public import Foundation

/// Supplies AWS credentials, refreshing them when they expire.
public protocol AWSCredentialsProvider: Sendable {
    /// Valid credentials (fetched or refreshed as needed).
    func credentials() async throws -> AWSCredentials
    /// Where the credentials come from, for messages ("environment", "profile dev", "EC2 instance metadata", …).
    var source: String { get }
}

/// Fixed credentials.
public struct StaticCredentialsProvider: AWSCredentialsProvider {
    public let value: AWSCredentials
    public let source: String
    public init(_ value: AWSCredentials, source: String = "static") {
        self.value = value
        self.source = source
    }
    public func credentials() async throws -> AWSCredentials { value }
}

/// Caches credentials from `fetch` until 5 minutes before they expire (never, for credentials without expiry);
/// concurrent callers share one fetch.
public actor CachingCredentialsProvider: AWSCredentialsProvider {
    public nonisolated let source: String
    private let fetch: @Sendable () async throws -> AWSCredentials
    private let now: @Sendable () -> Date
    private let refreshWindow: TimeInterval
    private var cached: AWSCredentials?
    private var inFlight: Task<AWSCredentials, any Error>?
    /// How many times `fetch` ran (for tests and diagnostics).
    public private(set) var fetchCount = 0

    public init(
        source: String, refreshWindow: TimeInterval = 300, now: @escaping @Sendable () -> Date = { Date() },
        fetch: @escaping @Sendable () async throws -> AWSCredentials
    ) {
        self.source = source
        self.fetch = fetch
        self.now = now
        self.refreshWindow = refreshWindow
    }

    public func credentials() async throws -> AWSCredentials {
        if let c = cached, c.expiration.map({ $0.timeIntervalSince(now()) > refreshWindow }) ?? true { return c }
        if let t = inFlight { return try await t.value }
        let fetch = self.fetch
        let task = Task { try await fetch() }
        inFlight = task
        defer { inFlight = nil }
        do {
            let c = try await task.value
            fetchCount += 1
            cached = c
            return c
        } catch {
            // Keep using still-valid cached credentials when a refresh fails.
            if let c = cached, let exp = c.expiration, exp > now() { return c }
            throw error
        }
    }

    /// Drops the cache (e.g. after an ExpiredToken error).
    public func invalidate() { cached = nil }
}
