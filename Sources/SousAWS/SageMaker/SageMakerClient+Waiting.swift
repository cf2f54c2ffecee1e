import Foundation

extension SageMakerClient {
    /// The shortest wait between two `DescribeEndpoint` calls: a smaller (or zero) interval is raised to it, so
    /// that no wait busy-loops and every wait keeps to its budget.
    public static let minimumPollInterval: Duration = .milliseconds(50)

    /// Polls `DescribeEndpoint` every `interval` until `InService` (returned), `Failed` (throws
    /// `SageMakerWaitError.failed` with the FailureReason) or `budget` runs out (throws `.timedOut`).
    /// `onTick` sees each description and the time waited so far.
    @discardableResult
    public func waitForEndpoint(
        _ name: String, interval: Duration = .seconds(30), budget: Duration = .seconds(3600),
        onTick: @Sendable (SageMakerEndpoint, Duration) -> Void = { _, _ in },
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) async throws -> SageMakerEndpoint {
        let clock = ContinuousClock()
        let start = clock.now
        var waited: Duration = .zero
        let interval = max(interval, Self.minimumPollInterval)
        // The first checks come sooner (1 s, 2 s, 4 s, …) up to `interval`: a small model on the local
        // cloud is ready in seconds, and a few extra DescribeEndpoint calls cost nothing on AWS.
        var step = min(interval, .seconds(1))
        while true {
            let e = try await describeEndpoint(name)
            onTick(e, waited)
            switch e.status {
            case "InService": return e
            case "Failed", "UpdateRollbackFailed":
                throw SageMakerWaitError(endpointName: name, kind: .failed(reason: e.failureReason ?? ""))
            default: break
            }
            if waited + step > budget {
                throw SageMakerWaitError(endpointName: name, kind: .timedOut(lastStatus: e.status, budget: budget))
            }
            try await sleep(step)  // poll interval
            waited = max(waited + step, clock.now - start)
            step = min(interval, step * 2)
        }
    }

    /// Polls until `DescribeEndpoint` says the endpoint does not exist (`AWSError.isNotFound`), or throws
    /// `.timedOut` when `budget` (the time waited, slow calls included) runs out.
    public func waitForEndpointDeleted(
        _ name: String, interval: Duration = .seconds(30), budget: Duration = .seconds(1800),
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let interval = max(interval, Self.minimumPollInterval)
        var waited: Duration = .zero
        while true {
            let status: String
            do {
                status = try await describeEndpoint(name).status
            } catch let e as AWSError where e.isNotFound {
                return
            }
            if waited + interval > budget {
                throw SageMakerWaitError(endpointName: name, kind: .timedOut(lastStatus: status, budget: budget))
            }
            try await sleep(interval)  // poll interval
            waited = max(waited + interval, clock.now - start)
        }
    }
}
