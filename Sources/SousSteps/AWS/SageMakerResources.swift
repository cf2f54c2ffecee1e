import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// The ledger types of SageMaker resources and the create/adopt/replace logic the SageMaker kinds share.
enum SageMakerResources {
    static let model = "sagemaker.model"
    static let config = "sagemaker.endpoint-config"
    static let endpoint = "sagemaker.endpoint"

    /// A create request as the ledger knows it: secrets replaced by `***` and a keyed hash (the workspace
    /// key) of the full request, so a changed token still changes the request hash.
    static func request(_ ctx: StepContext, _ raw: Value) -> ResourceRequest {
        let text = raw.jsonString(sorted: true)
        return ResourceRequest(.map(["request": .string(ctx.redact(text)), "digest": .string(ctx.keyedDigest(text))]))
    }

    /// What `ensure` found or made.
    struct Outcome {
        var name: String
        var attributes: ValueMap
        /// True when an existing resource (from an interrupted or earlier run) was taken over.
        var adopted: Bool
        /// Older resources of this step built from other inputs; delete them once the new one works.
        var stale: [LedgerEntry]
    }

    /// Gives the step's resource of `type`:
    /// 1. the one this step recorded, when it still exists and was made from the same request (a rerun after
    ///    a crash while waiting, or after a downstream failure);
    /// 2. else the one an interrupted create left under its intent's name (adopted via `ctx.createResource`);
    /// 3. else a new one named `newName()`, decided once and written to the ledger before the create call.
    static func ensure(
        _ ctx: StepContext, type: String, request raw: Value, newName: () -> String,
        describe: @escaping (String) async throws -> ValueMap?,
        create: (String) async throws -> ValueMap,
        deleteNow: (String) async throws -> Void
    ) async throws -> Outcome {
        let request = request(ctx, raw)
        var stale: [LedgerEntry] = []
        if let rec = ctx.recordedResource(type: type), rec.state == .created {
            if let attrs = try await describe(rec.name) {
                if rec.requestHash == request.hash {
                    ctx.log("reusing \(type) '\(rec.name)'")
                    return Outcome(name: rec.name, attributes: attrs, adopted: true, stale: [])
                }
                stale.append(rec)
            } else {
                ctx.log("\(type) '\(rec.name)' no longer exists")
                try ctx.markDeleted(rec)
            }
        }
        let name = ctx.pendingName(type: type) ?? newName()
        if let same = stale.first(where: { $0.name == name }) {
            // A fixed name: the old resource must go before the new one can take its name.
            ctx.log("replacing \(type) '\(name)'")
            try await deleteNow(name)
            try ctx.markDeleted(same)
            stale.removeAll { $0.name == name }
        }
        let (attrs, adopted) = try await ctx.createResource(
            type: type, name: name, request: request, find: { try await describe(name) }, create: { try await create(name) })
        return Outcome(name: name, attributes: attrs, adopted: adopted, stale: stale)
    }

    static func describeModel(_ sm: SageMakerClient, _ name: String) async throws -> ValueMap? {
        guard let m = try await AWSError.nilIfNotFound({ try await sm.describeModel(name) }) else { return nil }
        return ["arn": .string(m.arn), "region": .string(sm.client.region)]
    }

    static func describeConfig(_ sm: SageMakerClient, _ name: String) async throws -> ValueMap? {
        guard let c = try await AWSError.nilIfNotFound({ try await sm.describeEndpointConfig(name) }) else { return nil }
        return ["arn": .string(c.arn), "region": .string(sm.client.region), "models": .list(c.variants.map { .string($0.modelName) })]
    }

    static func describeEndpoint(_ sm: SageMakerClient, _ name: String) async throws -> ValueMap? {
        guard let e = try await AWSError.nilIfNotFound({ try await sm.describeEndpoint(name) }) else { return nil }
        return ["arn": .string(e.arn), "region": .string(sm.client.region), "config": .string(e.configName), "status": .string(e.status)]
    }

    /// Deletes one ledger resource (any of the three types); a resource already gone is fine.
    static func destroy(_ entry: LedgerEntry, ctx: StepContext) async throws {
        let client = try await AWSClientCache.shared(ctx).client(ctx, region: entry.attributes["region"]?.stringValue)
        let sm = SageMakerClient(client)
        switch entry.type {
        case endpoint: _ = try await AWSError.nilIfNotFound { try await sm.deleteEndpoint(entry.name) }
        case config: _ = try await AWSError.nilIfNotFound { try await sm.deleteEndpointConfig(entry.name) }
        case model: _ = try await AWSError.nilIfNotFound { try await sm.deleteModel(entry.name) }
        case EndpointTTL.resourceType: try await EndpointTTL.delete(entry, ctx: ctx)
        default: break
        }
    }

    /// Deletes resources this step replaced (endpoint first), and records it.
    static func deleteStale(_ entries: [LedgerEntry], ctx: StepContext) async throws {
        let order = [endpoint, config, model]
        for e in entries.sorted(by: { (order.firstIndex(of: $0.type) ?? 9) < (order.firstIndex(of: $1.type) ?? 9) }) {
            ctx.log("deleting replaced \(e.type) '\(e.name)'")
            try await destroy(e, ctx: ctx)
            try ctx.markDeleted(e)
            if e.type == endpoint { try await EndpointTTL.disarm(ctx, endpoint: e.name) }
        }
    }

    /// What an endpoint made from `configName` is billed for: from the config's ledger entry when this recipe made
    /// it, else from `DescribeEndpointConfig` (its first production variant).
    static func billing(_ ctx: StepContext, sm: SageMakerClient, configName: String) async throws -> EndpointBilling? {
        let local = EndpointCosts.isLocal(ctx.environment)
        if let rec = ctx.liveResources(type: config).last(where: { $0.name == configName }), var b = EndpointBilling(attributes: rec.attributes) {
            b.local = local
            return b
        }
        guard let c = try await AWSError.nilIfNotFound({ try await sm.describeEndpointConfig(configName) }), let v = c.variants.first else { return nil }
        return EndpointBilling(instanceType: v.instanceType, count: v.initialInstanceCount, region: sm.client.region, local: local)
    }

    /// The ledger attributes of an endpoint config made with `variant`.
    static func configAttributes(_ ctx: StepContext, sm: SageMakerClient, arn: String, variant: SageMakerProductionVariant) -> ValueMap {
        var attrs: ValueMap = ["arn": .string(arn), "region": .string(sm.client.region), "models": .list([.string(variant.modelName)])]
        let b = EndpointBilling(
            instanceType: variant.instanceType, count: variant.initialInstanceCount, region: sm.client.region,
            local: EndpointCosts.isLocal(ctx.environment))
        for e in b.attributes { attrs[e.key] = e.value }
        return attrs
    }

    /// Creates or adopts the endpoint, then waits for InService with live elapsed time and running cost.
    static func endpoint(
        _ ctx: StepContext, sm: SageMakerClient, configName: String, newName: () -> String, waiting: WaitInputs, tags: [String: String],
        billing: EndpointBilling?, ttl: (seconds: Double, role: String)?
    ) async throws -> (outcome: Outcome, status: String) {
        let (interval, budget) = (waiting.pollInterval, waiting.waitBudget)
        // An endpoint this step made that ended in Failed is not adopted (it would fail again): it is
        // deleted, and a new one is created below.
        if let rec = ctx.recordedResource(type: endpoint), rec.state == .created,
            let e = try await AWSError.nilIfNotFound({ try await sm.describeEndpoint(rec.name) }), e.status == "Failed"
        {
            ctx.warn("endpoint \(rec.name) had failed (\(e.failureReason ?? "no reason given")); deleting it and creating a new one")
            try await sm.deleteEndpoint(rec.name)
            try await sm.waitForEndpointDeleted(
                rec.name, interval: .milliseconds(Int64(min(max(interval, 0.01), 5) * 1000)), budget: .seconds(Int64(max(budget, 60))))
            try ctx.markDeleted(rec)
            try await EndpointTTL.disarm(ctx, endpoint: rec.name)
        }
        let outcome = try await ensure(
            ctx, type: endpoint, request: .map(["config": .string(configName)]), newName: newName,
            describe: { try await describeEndpoint(sm, $0) },
            create: { name in
                let arn = try await sm.createEndpoint(name: name, configName: configName, tags: tags)
                ctx.crashPoint("sagemaker.endpoint.created")
                var attrs: ValueMap = [
                    "arn": .string(arn), "region": .string(sm.client.region), "config": .string(configName), "status": .string("Creating"),
                    "created_at": .string(ISO8601DateFormatter().string(from: Date())),
                ]
                for e in billing?.attributes ?? ValueMap() { attrs[e.key] = e.value }
                return attrs
            },
            deleteNow: { name in
                try await sm.deleteEndpoint(name)
                try await sm.waitForEndpointDeleted(name, interval: .milliseconds(Int64(min(interval, 5) * 1000)), budget: .seconds(Int64(max(budget, 60))))
            })
        ctx.log("\(outcome.adopted ? "adopted" : "created") endpoint \(outcome.name)" + (billing.map { ", billed until it is deleted: \($0.rate)" } ?? ""))
        // The time to live is armed before the wait, so the endpoint is deleted on time even if sous dies waiting.
        if let ttl {
            try await EndpointTTL.arm(ctx, client: sm.client, endpoint: outcome.name, seconds: ttl.seconds, role: ttl.role)
        } else {
            try await EndpointTTL.disarm(ctx, endpoint: outcome.name)
        }
        ctx.crashPoint("sagemaker.endpoint.waiting")
        var status = outcome.attributes["status"]?.stringValue ?? "Creating"
        if waiting.wait {
            let started = Date()
            let name = outcome.name
            let e = try await sm.waitForEndpoint(
                name, interval: .milliseconds(Int64(max(0.01, interval) * 1000)), budget: .milliseconds(Int64(budget * 1000)),
                onTick: { e, _ in
                    let elapsed = Date().timeIntervalSince(started)
                    ctx.progress(
                        "endpoint \(name): \(e.status), \(AWSSteps.clock(elapsed)) elapsed" + (billing.map { " · \($0.running(for: elapsed))" } ?? ""))
                })
            status = e.status
            ctx.log("endpoint \(name) is \(e.status) after \(AWSSteps.clock(Date().timeIntervalSince(started)))")
        }
        return (outcome, status)
    }

    static func validateEndpoint(_ name: String?, ctx: StepContext, region: String?) async -> OutputCheck {
        guard let name else { return .invalid("no endpoint recorded") }
        do {
            let sm = SageMakerClient(try await AWSClientCache.shared(ctx).client(ctx, region: region))
            guard let e = try await AWSError.nilIfNotFound({ try await sm.describeEndpoint(name) }) else {
                return .invalid("endpoint \(name) no longer exists")
            }
            return e.status == "InService" ? .valid : .invalid("endpoint \(name) is \(e.status), not InService")
        } catch {
            return .invalid("could not check endpoint \(name) (\(error))")
        }
    }

    /// `name_from_base` with the 63-character limit; plain names are used as given.
    static func name(explicit: String?, base: String) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        return SageMakerNames.nameFromBase(base)
    }

    static func variant(_ v: VariantInputs, model: String) -> SageMakerProductionVariant {
        SageMakerProductionVariant(
            variantName: v.variantName, modelName: model, instanceType: v.instanceType, initialInstanceCount: v.instanceCount,
            initialVariantWeight: 1, volumeSizeInGB: v.volumeSize, modelDataDownloadTimeoutInSeconds: v.modelDataDownloadTimeout,
            containerStartupHealthCheckTimeoutInSeconds: v.containerStartupHealthCheckTimeout, routingStrategy: v.routingStrategy)
    }

    static func variantRequest(_ v: SageMakerProductionVariant) -> Value {
        .map([
            "variant": .string(v.variantName), "model": .string(v.modelName), "instance_type": .string(v.instanceType),
            "count": .int(v.initialInstanceCount), "volume": v.volumeSizeInGB.map(Value.int) ?? .null,
            "download_timeout": v.modelDataDownloadTimeoutInSeconds.map(Value.int) ?? .null,
            "startup_timeout": v.containerStartupHealthCheckTimeoutInSeconds.map(Value.int) ?? .null,
            "routing": v.routingStrategy.map(Value.string) ?? .null,
        ])
    }

    static func modelSpec(_ m: ModelInputs, name: String, role: String, tags: [String: String]) -> SageMakerModelSpec {
        SageMakerModelSpec(
            name: name, executionRoleArn: role, image: m.image, modelDataUrl: m.modelData.flatMap { $0.isEmpty ? nil : $0 },
            modelDataS3Prefix: m.modelDataPrefix.flatMap { $0.isEmpty ? nil : $0 }, environment: AWSSteps.stringMap(m.env ?? ValueMap()),
            tags: tags)
    }

    static func modelRequest(_ spec: SageMakerModelSpec) -> Value {
        .map([
            "image": .string(spec.image), "role": .string(spec.executionRoleArn),
            "model_data": spec.modelDataUrl.map(Value.string) ?? .null,
            "model_data_prefix": spec.modelDataS3Prefix.map(Value.string) ?? .null,
            "env": .map(ValueMap(spec.environment.sorted { $0.key < $1.key }.map { ($0.key, Value.string($0.value)) })),
        ])
    }
}

extension SageMakerResources {
    /// Waiting for an endpoint (`sagemaker.endpoint`, `sagemaker.deploy`).
    struct WaitInputs: StepInputs {
        @Input(default: true, "wait until the endpoint is InService (fails on Failed with SageMaker's FailureReason)") var wait: Bool
        @Input(default: 30, "seconds between DescribeEndpoint calls (SDK default 30; the LMI notebook uses 60; at least 0.05)") var pollInterval: Double
        @Input(default: 3600, "give up waiting after this many seconds") var waitBudget: Double
    }

    /// The production variant of an endpoint config (`sagemaker.endpoint-config`, `sagemaker.deploy`).
    struct VariantInputs: StepInputs {
        @Input("instance type, e.g. ml.g5.12xlarge") var instanceType: String
        @Input(default: 1, "initial instance count") var instanceCount: Int
        @Input(default: "AllTraffic", "production variant name (the LMI notebook uses variant1)") var variantName: String
        @Input("ML storage volume in GB (not for instances with local NVMe such as g5)") var volumeSize: Int?
        @Input("ModelDataDownloadTimeoutInSeconds (60–3600)") var modelDataDownloadTimeout: Int?
        @Input("ContainerStartupHealthCheckTimeoutInSeconds (60–3600)") var containerStartupHealthCheckTimeout: Int?
        @Input(allowed: ["LEAST_OUTSTANDING_REQUESTS", "RANDOM"], "RoutingConfig.RoutingStrategy") var routingStrategy: String?
    }

    /// A model's container (`sagemaker.model`, `sagemaker.deploy`).
    struct ModelInputs: StepInputs {
        @Input("the serving container image URI (see sagemaker.image-uri)") var image: String
        @Input("container environment (values are sent as strings; use ${{ secrets.x }} for tokens)") var env: ValueMap?
        @Input("ModelDataUrl: S3 URI of a model.tar.gz") var modelData: String?
        @Input("S3 prefix of uncompressed model files (ModelDataSource S3Prefix)") var modelDataPrefix: String?
        @Input("SageMaker execution role ARN (default: $SOUS_SAGEMAKER_ROLE)") var role: String?
    }

    /// The region and extra tags of every SageMaker create.
    struct CommonInputs: StepInputs {
        @Input("AWS region (default: the configured region)") var region: String?
        @Input("extra tags (sous always adds sous:recipe, sous:run, sous:step, sous:workspace)") var tags: ValueMap?
    }
}
