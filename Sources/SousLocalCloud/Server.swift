import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import NIOCore
import NIOSSL
import SousAWS
import SousCrypto
import Synchronization

/// The local cloud: one loopback HTTP server (Hummingbird 2) speaking S3 (path-style), STS
/// GetCallerIdentity, the SageMaker control plane (JSON 1.1), SageMaker Runtime (rest-json with
/// event-stream responses), EventBridge Scheduler's one-time schedules (rest-json), and `/_sous/health` and `/_sous/status` for `sous local`. Every request, on every route,
/// must carry a valid SigV4 signature made with `configuration.credentials` (``SigV4Authentication``).
public final class LocalCloudServer: Sendable {
    public let configuration: LocalCloudConfiguration
    let s3Store: S3Store
    let sagemaker: SageMakerService
    let scheduler: SchedulerService
    /// TLS for the connections that open with a handshake (nil: plain HTTP only).
    private let tls: NIOSSLContext?
    private let boundPort = Mutex<Int?>(nil)

    /// Opens the data directory (reloading buckets, objects and SageMaker resources from disk).
    public init(configuration: LocalCloudConfiguration) async throws {
        self.configuration = configuration
        s3Store = try S3Store(dataDirectory: configuration.dataDirectory)
        sagemaker = try SageMakerService(configuration: configuration, s3: s3Store)
        scheduler = try SchedulerService(configuration: configuration, sagemaker: sagemaker)
        tls = LocalCloudTLS.context(directory: configuration.tlsDirectory, log: configuration.log)
    }

    /// The port once the server listens.
    public var port: Int? { boundPort.withLock { $0 } }

    /// Runs until the task is cancelled (which shuts the server down gracefully). `onReady` gets the bound port; endpoints that were Creating or
    /// InService before a restart are loaded again in the background.
    public func run(onReady: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        var logger = Logger(label: "sous.local-cloud")
        logger.logLevel = .critical
        let log = configuration.log
        let responder = LocalCloudResponder(
            authentication: SigV4Authentication(credentials: configuration.credentials, region: configuration.region, log: log), log: log
        ) { [self] service, router in
            addRoutes(service, router)
        }
        let app = Application(
            responder: responder,
            server: HTTPServerBuilder { [tls] responder in
                TLSOrPlainChannel(
                    base: HTTP1Channel(
                        responder: responder, configuration: .init(additionalChannelHandlers: [LargeReadsHandler(), ExpectContinueHandler()])),
                    tls: tls)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { [self] channel in
                let p = channel.localAddress?.port ?? 0
                self.boundPort.withLock { $0 = p }
                self.configuration.log("listening on \(self.configuration.host):\(p)")
                await self.sagemaker.resumeEndpoints()
                await self.scheduler.resume()
                onReady(p)
            },
            logger: logger)
        // Stop by graceful shutdown, never by cancelling the server's task: cancellation drops connections
        // Hummingbird has accepted but not yet handled, and NIO traps on their unfinished writers.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: app)], logger: logger))
        let runner = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await runner.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }

    // MARK: Routes

    /// The routes of one service (``LocalCloudResponder`` has put the error mapping and authentication before them).
    private func addRoutes(_ service: ServiceProtocol, _ router: Router<LocalCloudContext>) {
        switch service {
        case .s3:
            S3Route.register(on: router, service: S3Service(store: s3Store, region: configuration.region))
        case .sageMaker:
            router.post("/") { [sagemaker] _, context in
                try await sagemaker.handle(target: context.wire.header("x-amz-target") ?? "", body: context.payload.collect(limit: service.bodyLimit))
            }
        case .sageMakerRuntime:
            for (operation, streaming) in [("invocations", false), ("invocations-response-stream", true)] {
                router.post("/endpoints/:name/\(operation)") { [sagemaker] _, context in
                    let name = context.parameters.get("name").map { $0.removingPercentEncoding ?? $0 } ?? ""
                    return try await sagemaker.invoke(endpoint: name, body: context.payload.collect(limit: service.bodyLimit), streaming: streaming)
                }
            }
        case .sts:
            router.post("/") { [self] _, context in try sts(body: await context.payload.collect(limit: service.bodyLimit)) }
        case .scheduler:
            let handler: @Sendable (Request, LocalCloudContext) async throws -> Response = { [scheduler] request, context in
                let name = context.parameters.get("name").map { $0.removingPercentEncoding ?? $0 } ?? ""
                return try await scheduler.handle(request.method.rawValue, name: name, body: context.payload.collect(limit: service.bodyLimit))
            }
            router.post("/schedules/:name", use: handler)
            router.get("/schedules/:name", use: handler)
            router.put("/schedules/:name", use: handler)
            router.delete("/schedules/:name", use: handler)
        case .control:
            router.get("/_sous/health") { _, _ in
                Reply.json(.ok, ["ok": true, "pid": Int(getpid())], contentType: "application/json")
            }
            router.get("/_sous/status") { [self] _, _ in await status() }
        }
    }

    private func sts(body: [UInt8]) throws -> Response {
        let form = AWSURIEncoding.parseQuery(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "+", with: "%20"))
        let action = form.first { $0.name == "Action" }?.value ?? ""
        guard action == "GetCallerIdentity" else {
            throw ServiceError(.badRequest, "InvalidAction", "The local cloud's STS only answers GetCallerIdentity, not \(action).")
        }
        let acct = configuration.accountId
        let x = """
            <GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>\
            <Arn>arn:aws:iam::\(acct):user/sous-local</Arn><UserId>\(configuration.credentials.accessKeyId)</UserId>\
            <Account>\(acct)</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>\(Reply.requestId())</RequestId>\
            </ResponseMetadata></GetCallerIdentityResponse>
            """
        return Reply.bytes(.ok, Array(x.utf8), contentType: "text/xml")
    }

    /// `/_sous/status`, for `sous local status`: buckets, models, configs and endpoints.
    private func status() async -> Response {
        var buckets: [[String: Any]] = []
        for b in await s3Store.bucketNames() {
            buckets.append(["name": b.name, "objects": await s3Store.objectCount(b.name)])
        }
        let endpoints = await sagemaker.endpointSummaries()
        let (models, configs) = await sagemaker.resourceNames()
        return Reply.json(
            .ok, ["pid": Int(getpid()), "buckets": buckets, "endpoints": endpoints, "models": models, "endpointConfigs": configs],
            contentType: "application/json")
    }
}
