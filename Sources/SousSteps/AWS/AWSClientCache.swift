import SousAWS
import SousEngine
import Synchronization

/// One `AWSClient` per region for the whole run (a service of the run: `ctx.services[AWSClientCache.self]`),
/// built from the run's environment with `AWSClient.make`, so `AWS_ENDPOINT_URL*` pointing at moto or the
/// local cloud just works.
final class AWSClientCache: Sendable, ServiceKey {
    private let clients = Mutex<[String: AWSClient]>([:])
    private let defaultRegion = Mutex<String?>(nil)

    static func makeValue() -> AWSClientCache { AWSClientCache() }

    static func shared(_ ctx: StepContext) -> AWSClientCache { ctx.services[AWSClientCache.self] }

    /// The client for `region` (nil = the configured region: AWS_REGION, profile, …).
    func client(_ ctx: StepContext, region: String?) async throws -> AWSClient {
        let wanted = region.flatMap { $0.isEmpty ? nil : $0 } ?? defaultRegion.withLock { $0 }
        if let wanted, let c = clients.withLock({ $0[wanted] }) { return c }
        let made = try await AWSClient.make(environment: ctx.environment, region: wanted)
        if region == nil || region?.isEmpty == true { defaultRegion.withLock { $0 = made.region } }
        clients.withLock { $0[made.region] = made }
        return made
    }
}
