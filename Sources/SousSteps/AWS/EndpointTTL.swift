public import Foundation
import SousAWS
import Synchronization
public import SousEngine
import SousRecipe

/// `sous run --ttl DURATION --ttl-role ARN`: a time to live for every endpoint the run creates (it wins over the
/// steps' `ttl`/`ttl_role` inputs).
public struct EndpointTTLOverride: Sendable, Equatable {
    public var seconds: Double?
    public var role: String?
    public init(seconds: Double?, role: String?) {
        self.seconds = seconds
        self.role = role
    }
}

/// The run's ``EndpointTTLOverride``, a service of the run (``Services``): the CLI sets it
/// (`engine.services[EndpointTTLSettings.self].set(…)`), the endpoint steps and the preflight read it.
public final class EndpointTTLSettings: Sendable, ServiceKey {
    private let value = Mutex<EndpointTTLOverride?>(nil)
    public static func makeValue() -> EndpointTTLSettings { EndpointTTLSettings() }
    public func set(_ v: EndpointTTLOverride?) { value.withLock { $0 = v } }
    public var override: EndpointTTLOverride? { value.withLock { $0 } }
}

/// An endpoint's time to live: a one-time EventBridge Scheduler schedule (`at(…)`, target the SageMaker
/// `DeleteEndpoint` universal target, `ActionAfterCompletion: DELETE`) made right after `CreateEndpoint`, so the
/// endpoint is deleted at that time even if sous never runs again (the laptop sleeps, the run is killed). The schedule
/// is a ledger resource of the endpoint's step: `sous keep` moves it, the clean-up step and `sous destroy` delete it.
public enum EndpointTTL {
    /// The ledger type of a schedule.
    public static let resourceType = "scheduler.schedule"
    /// The role EventBridge Scheduler assumes to call `sagemaker:DeleteEndpoint`, when no step input or option names one.
    public static let roleVariable = "SOUS_SCHEDULER_ROLE"

    /// `2h`, `90m`, `1h30m`, `45s`, `1d`, `1.5h` → seconds; nil for anything else (a bare number has no unit).
    public static func parse(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let m = t.wholeMatch(of: #/(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?/#), !t.isEmpty
        else { return nil }
        var total = 0.0
        for (part, unit) in [(m.1, 86400.0), (m.2, 3600.0), (m.3, 60.0), (m.4, 1.0)] {
            if let p = part, let v = Double(p) { total += v * unit }
        }
        return total > 0 ? total : nil
    }

    /// `2h`, `1h30m`, `45s`.
    public static func describe(_ seconds: Double) -> String {
        var s = Int(seconds.rounded())
        var out = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60)] where s >= size {
            out += "\(s / size)\(unit)"
            s %= size
        }
        if s > 0 || out.isEmpty { out += "\(s)s" }
        return out
    }

    /// `2026-12-05 14:00:00 UTC`.
    public static func format(_ d: Date) -> String { SchedulerClient.utcFormatter("yyyy-MM-dd HH:mm:ss 'UTC'").string(from: d) }

    /// The schedule of endpoint `endpoint` (64 characters at most, `[0-9a-zA-Z-_.]`).
    public static func scheduleName(endpoint: String) -> String {
        let base = "sous-ttl-" + endpoint
        if base.count <= 64 { return base }
        let hash = String(ResourceRequest(.string(endpoint)).hash.prefix(8))
        return String(base.prefix(55)) + "-" + hash
    }

    /// The time-to-live inputs of the endpoint steps (`sagemaker.deploy`, `sagemaker.endpoint`).
    struct Inputs: StepInputs {
        @Input(
            "time to live, e.g. 2h, 90m, 1d: a one-time EventBridge Scheduler schedule deletes the endpoint that long after this step ran, even if sous never runs again (`sous keep RECIPE 2h` moves it, the clean-up removes it); empty = none"
        ) var ttl: String?
        @Input(
            "with ttl: the IAM role EventBridge Scheduler assumes to call sagemaker:DeleteEndpoint (trusts scheduler.amazonaws.com; default: $SOUS_SCHEDULER_ROLE)"
        ) var ttlRole: String?
    }

    /// The run's `--ttl`/`--ttl-role`, when given.
    static func override(_ ctx: StepContext) -> EndpointTTLOverride? { ctx.services[EndpointTTLSettings.self].override }

    /// The step's time to live and schedule role (`--ttl`/`--ttl-role` first, then its inputs, then
    /// `SOUS_SCHEDULER_ROLE`); nil without a ttl.
    /// - Throws: ``StepError`` for a ttl that is not a duration, or a ttl without a role: before anything is created.
    static func settings(_ ctx: StepContext, _ inputs: Inputs) throws -> (seconds: Double, role: String)? {
        let override = override(ctx)
        let seconds: Double
        if let s = override?.seconds {
            seconds = s
        } else if let text = inputs.ttl, !text.isEmpty {
            guard let s = parse(text) else { throw StepError("ttl '\(text)' is not a duration: write it like 2h, 90m, 1h30m or 1d") }
            seconds = s
        } else {
            return nil
        }
        return (seconds, try role(ctx, given: override?.role, stepRole: inputs.ttlRole))
    }

    /// The schedule role: `given`, else the step's `ttl_role`, else `SOUS_SCHEDULER_ROLE`.
    static func role(_ ctx: StepContext, given: String?, stepRole: String?) throws -> String {
        let candidates = [given, stepRole, ctx.environment[roleVariable]]
        guard let r = candidates.compactMap({ $0 }).first(where: { !$0.isEmpty }) else {
            throw StepError(
                "a ttl needs a role for EventBridge Scheduler to delete the endpoint with: give the step input 'ttl_role' (or -p ttl_role=… in the notebook recipes, --ttl-role, or $\(roleVariable)), an IAM role that trusts scheduler.amazonaws.com and may call sagemaker:DeleteEndpoint (docs/steps-aws.md, \"Time to live\")")
        }
        return try AWSSteps.checkRole(r)
    }

    static func schedule(endpoint: String, at: Date, role: String, ctx: StepContext) -> SchedulerClient.OneTimeSchedule {
        let input = Value.map(["EndpointName": .string(endpoint)]).jsonString(sorted: true)
        return SchedulerClient.OneTimeSchedule(
            name: scheduleName(endpoint: endpoint), at: at, targetArn: SchedulerClient.deleteEndpointTarget, roleArn: role, input: input,
            description: AWSSteps.tagValue("sous: delete endpoint \(endpoint) of recipe \(ctx.recipeName) (ttl)"))
    }

    static func attributes(endpoint: String, at: Date, role: String, region: String, runID: String) -> ValueMap {
        [
            "endpoint": .string(endpoint), "at": .string(ISO8601DateFormatter().string(from: at)), "role": .string(role),
            "region": .string(region), "armed_run": .string(runID),
        ]
    }

    /// The live schedules the ledger holds for `endpoint`.
    static func schedules(_ ctx: StepContext, endpoint: String) -> [LedgerEntry] {
        ctx.liveResources(type: resourceType).filter { $0.attributes["endpoint"]?.stringValue == endpoint }
    }

    /// Creates (or moves) the schedule that deletes `endpoint` at now + `seconds`.
    /// - Returns: when it fires.
    @discardableResult
    static func arm(_ ctx: StepContext, client: AWSClient, endpoint: String, seconds: Double, role: String) async throws -> Date {
        let at = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + seconds).rounded(.up))
        let s = schedule(endpoint: endpoint, at: at, role: role, ctx: ctx)
        let scheduler = SchedulerClient(client)
        let attrs = attributes(endpoint: endpoint, at: at, role: role, region: client.region, runID: ctx.runID)
        if let rec = schedules(ctx, endpoint: endpoint).last {
            try await put(scheduler, s)
            try ctx.updateResource(rec, attributes: attrs)
        } else {
            _ = try await ctx.createResource(
                type: resourceType, name: s.name, request: ResourceRequest(.map(["endpoint": .string(endpoint)])),
                find: { try await AWSError.nilIfNotFound({ try await scheduler.get(s.name) }).map { _ in attrs } },
                create: {
                    try await put(scheduler, s)
                    return attrs
                })
        }
        ctx.log("endpoint \(endpoint) is deleted at \(format(at)) (ttl \(describe(seconds)), schedule \(s.name))")
        return at
    }

    /// Update, else create: whichever the schedule's state needs (it deletes itself once it has fired).
    static func put(_ scheduler: SchedulerClient, _ s: SchedulerClient.OneTimeSchedule) async throws {
        do {
            try await scheduler.create(s)
        } catch let e as AWSError where e.code == "ConflictException" {
            try await scheduler.update(s)
        }
    }

    /// Deletes the schedules of `endpoint` (the endpoint is being deleted, or no longer has a ttl).
    static func disarm(_ ctx: StepContext, endpoint: String) async throws {
        for rec in schedules(ctx, endpoint: endpoint) {
            try await delete(rec, ctx: ctx)
            try ctx.markDeleted(rec)
            ctx.log("removed the ttl schedule \(rec.name) of endpoint \(endpoint)")
        }
    }

    /// Deletes one schedule (gone already is fine: it deletes itself after firing).
    static func delete(_ rec: LedgerEntry, ctx: StepContext) async throws {
        let client = try await AWSClientCache.shared(ctx).client(ctx, region: rec.attributes["region"]?.stringValue)
        try await SchedulerClient(client).delete(rec.name)
    }

    /// `sous keep`: the endpoint of ledger entry `endpoint` is deleted `seconds` from now, by moving its schedule (or
    /// making one, with `role`, else the role its schedule had, else the step's `ttl_role`/`SOUS_SCHEDULER_ROLE`).
    /// - Returns: when it fires.
    public static func keep(_ ctx: StepContext, endpoint: LedgerEntry, seconds: Double, role: String?) async throws -> Date {
        let known = schedules(ctx, endpoint: endpoint.name).last?.attributes["role"]?.stringValue
        let r = try Self.role(ctx, given: role ?? known, stepRole: nil)
        let client = try await AWSClientCache.shared(ctx).client(ctx, region: endpoint.attributes["region"]?.stringValue)
        return try await arm(ctx, client: client, endpoint: endpoint.name, seconds: seconds, role: r)
    }

    /// `sous keep --forever`: removes the endpoint's schedule; it then runs until it is deleted.
    public static func cancel(_ ctx: StepContext, endpoint: LedgerEntry) async throws {
        try await disarm(ctx, endpoint: endpoint.name)
    }

    /// Whether run `run` armed (or moved) the schedule of `endpoint`.
    public static func armed(endpoint: String, run: String, ctx: StepContext) -> Bool {
        schedules(ctx, endpoint: endpoint).contains { $0.attributes["armed_run"]?.stringValue == run }
    }

    /// When the ledger's live schedule of `endpoint` fires, if it has one.
    public static func deadline(of endpoint: String, in live: [LedgerEntry]) -> Date? {
        live.last { $0.type == resourceType && $0.attributes["endpoint"]?.stringValue == endpoint }
            .flatMap { $0.attributes["at"]?.stringValue }.flatMap { ISO8601DateFormatter().date(from: $0) }
    }
}
