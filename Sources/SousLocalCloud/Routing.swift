import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// What every middleware and handler of the local cloud knows about a request.
struct LocalCloudContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The connection (the body reader asks it for `100 Continue`).
    let channel: any Channel
    /// The request as the signature covers it; set by ``LocalCloudResponder`` before routing.
    var wire = WireRequest.empty
    /// The service whose routes answer; set by ``LocalCloudResponder`` before routing.
    var service = ServiceProtocol.s3
    /// The body, readable only through the checks its signature calls for; set by ``SigV4Authentication``.
    var payload = RequestPayload.empty

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// The services the local cloud speaks, each with its wire protocol: AWS tells them apart by host name, the local
/// cloud (one host) by the service named in the request's credential scope, and sous's own routes by their path.
enum ServiceProtocol: Sendable, CaseIterable {
    /// S3 (REST-XML), path-style.
    case s3
    /// The SageMaker control plane (JSON 1.1, `X-Amz-Target`).
    case sageMaker
    /// SageMaker Runtime (REST-JSON).
    case sageMakerRuntime
    /// STS (query protocol).
    case sts
    /// EventBridge Scheduler's one-time schedules (REST-JSON), for endpoint time-to-live.
    case scheduler
    /// `/_sous/health` and `/_sous/status`, for `sous local` (JSON).
    case control

    init(_ wire: WireRequest) {
        if wire.rawPath.hasPrefix("/_sous/") {
            self = .control
            return
        }
        switch wire.credentialScope?.service {
        case "sagemaker": self = wire.header("x-amz-target") != nil ? .sageMaker : .sageMakerRuntime
        case "sts": self = .sts
        case "scheduler": self = .scheduler
        default: self = .s3
        }
    }

    /// The largest body the service reads whole: for requests whose signature covers the body's hash without
    /// sending it (SageMaker's and STS's clients sign that way), what is read before the signature can be checked.
    var bodyLimit: Int {
        switch self {
        case .s3, .control: 0
        case .sageMaker: 8 << 20
        case .sageMakerRuntime: 7 << 20
        case .sts, .scheduler: 1 << 20
        }
    }

    /// The one error mapping: `error` in this service's wire format.
    func response(for error: ServiceError, head: Bool) -> Response {
        switch self {
        case .s3: error.s3Response(head: head)
        case .sageMaker: error.jsonResponse()
        case .sageMakerRuntime, .scheduler, .control: error.restJSONResponse()
        case .sts: error.queryResponse()
        }
    }

    /// The error for a path or method no route of this service answers.
    func unknownRoute(_ wire: WireRequest) -> ServiceError {
        switch self {
        case .s3: ServiceError(.methodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        default: ServiceError(.notFound, "UnknownOperationException", "The sous local cloud does not serve \(wire.method) \(wire.rawPath).")
        }
    }
}

/// Renders every error thrown below it (by authentication, routing or a handler) in the wire format of the request's
/// service; errors that are not the services' own become `InternalError` (500) and are logged.
struct ServiceErrorMiddleware: RouterMiddleware {
    typealias Context = LocalCloudContext
    let log: @Sendable (String) -> Void

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let wire = context.wire
        let error: ServiceError
        do {
            return try await next(request, context)
        } catch let e as ServiceError {
            if e.status.code >= 500 { log("\(wire.method) \(wire.rawPath): \(e.code): \(e.message)") }
            error = e
        } catch let e as HTTPError where e.status == .notFound {
            error = context.service.unknownRoute(wire)  // the router found no route for this path and method
        } catch {
            log("\(wire.method) \(wire.rawPath): \(error)")
            return context.service.response(
                for: ServiceError(.internalServerError, "InternalError", "We encountered an internal error. Please try again."),
                head: wire.method == "HEAD")
        }
        return context.service.response(for: error, head: wire.method == "HEAD")
    }
}

/// The local cloud's responder: picks the service a request speaks to, then that service's router, whose every
/// route (and not-found answer) sits behind the same two middlewares: the error mapping and SigV4 authentication.
struct LocalCloudResponder: HTTPResponder {
    typealias Context = LocalCloudContext
    let routers: [ServiceProtocol: RouterResponder<LocalCloudContext>]

    /// Builds one router per service: `ServiceErrorMiddleware` and `authentication` first, then the routes
    /// `addRoutes` adds for that service, so no route can be added without both.
    init(
        authentication: SigV4Authentication, log: @escaping @Sendable (String) -> Void,
        addRoutes: (ServiceProtocol, Router<LocalCloudContext>) -> Void
    ) {
        var routers: [ServiceProtocol: RouterResponder<LocalCloudContext>] = [:]
        for service in ServiceProtocol.allCases {
            let router = Router(context: LocalCloudContext.self)
            router.add(middleware: ServiceErrorMiddleware(log: log))
            router.add(middleware: authentication)
            addRoutes(service, router)
            routers[service] = router.buildResponder()
        }
        self.routers = routers
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        var context = context
        context.wire = WireRequest(request)
        context.service = ServiceProtocol(context.wire)
        return try await routers[context.service]!.respond(to: request, context: context)
    }
}
