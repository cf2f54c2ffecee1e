import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import NIOCore
import SousAWS
import SousCrypto
import Synchronization

/// The local cloud: one loopback HTTP server (Hummingbird 2) speaking S3 (path-style), STS
/// GetCallerIdentity, the SageMaker control plane (JSON 1.1) and SageMaker Runtime (rest-json with
/// event-stream responses). Every request must carry a valid SigV4 signature made with
/// `configuration.credentials`.
public final class LocalCloudServer: Sendable {
    public let configuration: LocalCloudConfiguration
    let s3Store: S3Store
    let sagemaker: SageMakerService
    let scheduler: SchedulerService
    private let verifier = SigV4Verifier()
    private let boundPort = Mutex<Int?>(nil)

    /// Opens the data directory (reloading buckets, objects and SageMaker resources from disk).
    public init(configuration: LocalCloudConfiguration) async throws {
        self.configuration = configuration
        s3Store = try S3Store(dataDirectory: configuration.dataDirectory)
        sagemaker = try SageMakerService(configuration: configuration, s3: s3Store)
        scheduler = try SchedulerService(configuration: configuration, sagemaker: sagemaker)
    }

    /// The port once the server listens.
    public var port: Int? { boundPort.withLock { $0 } }

    /// Runs until the task is cancelled (which shuts the server down gracefully). `onReady` gets the bound port; endpoints that were Creating or
    /// InService before a restart are loaded again in the background.
    public func run(onReady: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        var logger = Logger(label: "sous.local-cloud")
        logger.logLevel = .critical
        let responder = CallbackResponder<BasicRequestContext> { [self] request, _ in
            await self.respond(request)
        }
        let app = Application(
            responder: responder,
            server: .http1(configuration: .init(additionalChannelHandlers: [LargeReadsHandler(), ExpectContinueHandler()])),
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

    // MARK: Dispatch

    enum Protocol_ { case s3, json, restJSON, query, scheduler }

    func respond(_ request: Request) async -> Response {
        let wire = WireRequest(request)
        if wire.rawPath.hasPrefix("/_sous/") { return await internalRoute(wire) }
        let service = wire.signingService ?? "s3"
        let proto: Protocol_ =
            switch service {
            case "sagemaker": wire.header("x-amz-target") != nil ? .json : .restJSON
            case "sts": .query
            case "scheduler": .scheduler
            default: .s3
            }
        do {
            switch proto {
            case .s3:
                try authenticate(wire, bodySHA256: nil, service: "s3")
                return try await S3Service(store: s3Store, region: configuration.region).handle(wire, body: request.body)
            case .json:
                let body = try await BodyIO.collect(request.body, limit: 8 << 20)
                try authenticate(wire, bodySHA256: Digest.sha256(body).hexString, service: service)
                return try await sagemaker.handle(target: wire.header("x-amz-target") ?? "", body: body)
            case .restJSON:
                let body = try await BodyIO.collect(request.body, limit: 7 << 20)
                try authenticate(wire, bodySHA256: Digest.sha256(body).hexString, service: service)
                return try await sagemaker.runtime(wire, body: body)
            case .query:
                let body = try await BodyIO.collect(request.body, limit: 1 << 20)
                try authenticate(wire, bodySHA256: Digest.sha256(body).hexString, service: service)
                return sts(body: body)
            case .scheduler:
                let body = try await BodyIO.collect(request.body, limit: 1 << 20)
                try authenticate(wire, bodySHA256: Digest.sha256(body).hexString, service: service)
                return try await scheduler.handle(wire, body: body)
            }
        } catch let e as ServiceError {
            if e.status.code >= 500 { configuration.log("\(wire.method) \(wire.rawPath): \(e.code): \(e.message)") }
            return Self.errorResponse(e, proto, head: wire.method == "HEAD")
        } catch {
            configuration.log("\(wire.method) \(wire.rawPath): \(error)")
            let e = ServiceError(.internalServerError, "InternalError", "We encountered an internal error. Please try again.")
            return Self.errorResponse(e, proto, head: wire.method == "HEAD")
        }
    }

    /// The one error mapping: an error in the wire format of the protocol the request spoke.
    static func errorResponse(_ e: ServiceError, _ proto: Protocol_, head: Bool) -> Response {
        switch proto {
        case .s3: e.s3Response(head: head)
        case .json: e.jsonResponse()
        case .restJSON, .scheduler: e.restJSONResponse()
        case .query: e.queryResponse()
        }
    }

    private func authenticate(_ wire: WireRequest, bodySHA256: String?, service: String) throws {
        let creds = configuration.credentials
        let outcome = verifier.verify(
            method: wire.method, path: wire.rawPath, rawQuery: wire.rawQuery, headers: wire.headers, bodySHA256: bodySHA256
        ) { akid in
            akid == creds.accessKeyId ? SigV4Verifier.KeySecret(secretAccessKey: creds.secretAccessKey) : nil
        }
        if case .valid(_, let region, _) = outcome, region != configuration.region {
            // As AWS: a credential scoped to another (or no) region is refused.
            configuration.log("refused \(wire.method) \(wire.rawPath): credential scoped to region '\(region)'")
            if service == "s3" {
                throw ServiceError(
                    .badRequest, "AuthorizationHeaderMalformed",
                    "The authorization header is malformed; the region '\(region)' is wrong; expecting '\(configuration.region)'",
                    s3Extra: [("Region", configuration.region)])
            }
            throw ServiceError(
                .forbidden, "InvalidSignatureException",
                "Credential should be scoped to a valid region (got '\(region)', this local cloud serves '\(configuration.region)').")
        }
        if case .invalid(let code, let message) = outcome {
            let status: HTTPResponse.Status =
                switch code {
                case "IncompleteSignature", "XAmzContentSHA256Mismatch", "InvalidToken": .badRequest
                default: .forbidden
                }
            var c = code
            if service == "s3" && code == "MissingAuthenticationToken" { c = "AccessDenied" }
            configuration.log("refused \(wire.method) \(wire.rawPath) (service \(service)): \(c)")
            throw ServiceError(status, c, message)
        }
    }

    private func sts(body: [UInt8]) -> Response {
        let form = AWSURIEncoding.parseQuery(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "+", with: "%20"))
        let action = form.first { $0.name == "Action" }?.value ?? ""
        guard action == "GetCallerIdentity" else {
            return ServiceError(.badRequest, "InvalidAction", "The local cloud's STS only answers GetCallerIdentity, not \(action).").queryResponse()
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

    /// Unauthenticated loopback routes for `sous local status/start`: `/_sous/health`, `/_sous/status`.
    private func internalRoute(_ wire: WireRequest) async -> Response {
        switch wire.rawPath {
        case "/_sous/health":
            return Reply.json(.ok, ["ok": true, "pid": Int(getpid())], contentType: "application/json")
        case "/_sous/status":
            var buckets: [[String: Any]] = []
            for b in await s3Store.bucketNames() {
                buckets.append(["name": b.name, "objects": await s3Store.objectCount(b.name)])
            }
            let endpoints = await sagemaker.endpointSummaries()
            let (models, configs) = await sagemaker.resourceNames()
            return Reply.json(
                .ok, ["pid": Int(getpid()), "buckets": buckets, "endpoints": endpoints, "models": models, "endpointConfigs": configs],
                contentType: "application/json")
        default:
            return Reply.empty(.notFound)
        }
    }
}
