import Foundation
import SousAWS
import SousEngine
import SousHTTP
import SousRecipe

/// `sagemaker.image-uri`: the serving container image for a framework, version and region (static table).
struct SageMakerImageURIKind: StepKind {
    let schema = StepKindSchema(
        kind: "sagemaker.image-uri", version: 1, category: .pure,
        summary: "The TGI or DJL/LMI serving image URI for a version and region (like sagemaker.image_uris.retrieve).",
        inputs: [
            InputSpec("framework", .string, required: true, allowed: SageMakerImageURIs.Framework.allCases.map(\.rawValue), "huggingface-llm (TGI), djl-deepspeed or djl-lmi"),
            InputSpec("version", .string, required: true, "container version, e.g. 1.0.3 (TGI) or 0.25.0 (djl-deepspeed)"),
            InputSpec("region", .string, "AWS region (default: the configured region)"),
        ],
        outputs: [
            OutputSpec("image", .string, "the image URI"),
            OutputSpec("region", .string, "the region it is for"),
        ])

    static func resolve(_ inputs: ValueMap, environment: [String: String]) async throws -> (String, String) {
        guard let fw = inputs["framework"]?.stringValue.flatMap(SageMakerImageURIs.Framework.init(rawValue:)) else {
            throw StepError("input 'framework' must be one of \(SageMakerImageURIs.Framework.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let version = inputs["version"]?.stringValue ?? inputs["version"]?.interpolationText ?? ""
        var region = inputs["region"]?.stringValue ?? ""
        if region.isEmpty { region = try await AWSConfiguration(environment: environment).resolveRegion(http: .shared) }
        do {
            return (try SageMakerImageURIs.uri(fw, version: version, region: region), region)
        } catch {
            throw StepError(String(describing: error))
        }
    }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let (image, region) = try await Self.resolve(ctx.inputs, environment: ctx.environment)
        ctx.log("image \(image)")
        return ["image": .string(image), "region": .string(region)]
    }

    /// The region may come from the environment, which is not part of the fingerprint: recompute.
    func validate(outputs: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck {
        guard let (image, _) = try? await Self.resolve(inputs, environment: ctx.environment) else { return .invalid("cannot resolve the image") }
        return image == outputs["image"]?.stringValue ? .valid : .invalid("the image for this region is now \(image)")
    }
}

/// `sagemaker.model`: CreateModel (image, env, model data, role).
struct SageMakerModelKind: StepKind {
    let schema = StepKindSchema(
        kind: "sagemaker.model", version: 1, category: .create,
        summary: "Create a SageMaker model (image, environment, model data, execution role).",
        inputs: [
            InputSpec("name", .string, "the model name, used as given"),
            InputSpec("base_name", .string, "name_from_base: this plus a timestamp (default: the image's repository name)"),
        ] + SageMakerResources.modelInputs + SageMakerResources.commonInputs,
        outputs: [
            OutputSpec("model_name", .string, "the model name"),
            OutputSpec("model_arn", .string, "its ARN"),
        ])

    func planDetails(inputs: ValueMap) -> [String] { ["image \(inputs["image"]?.stringValue ?? "?")"] }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let image = try ctx.string("image")
        let role = try AWSSteps.role(ctx)
        let sm = SageMakerClient(try await AWSSteps.client(ctx))
        let tags = AWSSteps.tags(ctx)
        let probe = SageMakerResources.modelSpec(ctx, name: "", image: image, role: role, tags: tags)
        let o = try await SageMakerResources.ensure(
            ctx, type: SageMakerResources.model, request: SageMakerResources.modelRequest(probe),
            newName: { SageMakerResources.name(explicit: ctx.optionalString("name"), base: ctx.optionalString("base_name") ?? SageMakerNames.imageBaseName(image)) },
            describe: { try await SageMakerResources.describeModel(sm, $0) },
            create: { name in
                var spec = probe
                spec.name = name
                let arn = try await sm.createModel(spec)
                return ["arn": .string(arn), "region": .string(sm.client.region)]
            },
            deleteNow: { try await sm.deleteModel($0) })
        try await SageMakerResources.deleteStale(o.stale, ctx: ctx)
        return ["model_name": .string(o.name), "model_arn": .string(o.attributes["arn"]?.stringValue ?? "")]
    }

    func validate(outputs: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck {
        guard let name = outputs["model_name"]?.stringValue else { return .invalid("no model recorded") }
        do {
            let sm = SageMakerClient(try await AWSSteps.client(ctx))
            return try await SageMakerResources.describeModel(sm, name) == nil ? .invalid("model \(name) no longer exists") : .valid
        } catch {
            return .invalid("could not check model \(name) (\(error))")
        }
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws { try await SageMakerResources.destroy(resource, ctx: ctx) }
}

/// `sagemaker.endpoint-config`: CreateEndpointConfig with one production variant.
struct SageMakerEndpointConfigKind: StepKind {
    let schema = StepKindSchema(
        kind: "sagemaker.endpoint-config", version: 1, category: .create,
        summary: "Create a SageMaker endpoint config with one production variant.",
        inputs: [
            InputSpec("model_name", .string, required: true, "the model to serve"),
            InputSpec("name", .string, "the config name (default: <model_name>-config, as the LMI notebook does)"),
        ] + SageMakerResources.variantInputs + SageMakerResources.commonInputs,
        outputs: [
            OutputSpec("endpoint_config_name", .string, "the config name"),
            OutputSpec("endpoint_config_arn", .string, "its ARN"),
        ])

    func planDetails(inputs: ValueMap) -> [String] {
        ["\(inputs["instance_type"]?.stringValue ?? "?") × \(inputs["instance_count"]?.intValue ?? 1)"]
    }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let model = try ctx.string("model_name")
        let variant = try SageMakerResources.variant(ctx, model: model)
        let sm = SageMakerClient(try await AWSSteps.client(ctx))
        let tags = AWSSteps.tags(ctx)
        let o = try await SageMakerResources.ensure(
            ctx, type: SageMakerResources.config, request: SageMakerResources.variantRequest(variant),
            newName: {
                if let n = ctx.optionalString("name"), !n.isEmpty { return n }
                return String("\(model)-config".suffix(63))
            },
            describe: { try await SageMakerResources.describeConfig(sm, $0) },
            create: { name in
                let arn = try await sm.createEndpointConfig(name: name, variants: [variant], tags: tags)
                return ["arn": .string(arn), "region": .string(sm.client.region), "models": .list([.string(model)])]
            },
            deleteNow: { try await sm.deleteEndpointConfig($0) })
        try await SageMakerResources.deleteStale(o.stale, ctx: ctx)
        return ["endpoint_config_name": .string(o.name), "endpoint_config_arn": .string(o.attributes["arn"]?.stringValue ?? "")]
    }

    func validate(outputs: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck {
        guard let name = outputs["endpoint_config_name"]?.stringValue else { return .invalid("no endpoint config recorded") }
        do {
            let sm = SageMakerClient(try await AWSSteps.client(ctx))
            return try await SageMakerResources.describeConfig(sm, name) == nil ? .invalid("endpoint config \(name) no longer exists") : .valid
        } catch {
            return .invalid("could not check endpoint config \(name) (\(error))")
        }
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws { try await SageMakerResources.destroy(resource, ctx: ctx) }
}

/// `sagemaker.endpoint`: CreateEndpoint, then wait for InService.
struct SageMakerEndpointKind: StepKind {
    let schema = StepKindSchema(
        kind: "sagemaker.endpoint", version: 1, category: .create,
        summary: "Create a SageMaker endpoint from a config and wait until it is InService.",
        inputs: [
            InputSpec("endpoint_config_name", .string, required: true, "the endpoint config"),
            InputSpec("name", .string, "the endpoint name, used as given"),
            InputSpec("base_name", .string, "name_from_base: this plus a timestamp (default: the config name)"),
        ] + SageMakerResources.waitInputs + SageMakerResources.commonInputs,
        outputs: [
            OutputSpec("endpoint_name", .string, "the endpoint name"),
            OutputSpec("endpoint_arn", .string, "its ARN"),
            OutputSpec("endpoint_config_name", .string, "its config"),
            OutputSpec("status", .string, "its status when the step finished (InService after a wait)"),
        ])

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let configName = try ctx.string("endpoint_config_name")
        let sm = SageMakerClient(try await AWSSteps.client(ctx))
        let (o, status) = try await SageMakerResources.endpoint(
            ctx, sm: sm, configName: configName,
            newName: { SageMakerResources.name(explicit: ctx.optionalString("name"), base: ctx.optionalString("base_name") ?? configName) },
            wait: ctx.bool("wait"), interval: ctx.double("poll_interval") ?? 30, budget: ctx.double("wait_budget") ?? 3600,
            tags: AWSSteps.tags(ctx))
        try await SageMakerResources.deleteStale(o.stale, ctx: ctx)
        return [
            "endpoint_name": .string(o.name), "endpoint_arn": .string(o.attributes["arn"]?.stringValue ?? ""),
            "endpoint_config_name": .string(configName), "status": .string(status),
        ]
    }

    func validate(outputs: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck {
        await SageMakerResources.validateEndpoint(outputs["endpoint_name"]?.stringValue, ctx: ctx, region: inputs["region"]?.stringValue)
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws { try await SageMakerResources.destroy(resource, ctx: ctx) }
}

/// `sagemaker.deploy`: model, endpoint config and endpoint in one step, as `HuggingFaceModel.deploy` does
/// (model named after the image, endpoint config named like the endpoint, variant AllTraffic).
struct SageMakerDeployKind: StepKind {
    let schema = StepKindSchema(
        kind: "sagemaker.deploy", version: 1, category: .create,
        summary: "Deploy a model to a SageMaker endpoint (CreateModel + CreateEndpointConfig + CreateEndpoint + wait), like HuggingFaceModel.deploy.",
        inputs: [
            InputSpec("endpoint_name", .string, "the endpoint name, used as given"),
            InputSpec("base_name", .string, "name_from_base for the endpoint: this plus a timestamp (default: the image's repository name)"),
            InputSpec("model_name", .string, "the model name (default: name_from_base of the image's repository name)"),
        ] + SageMakerResources.modelInputs + SageMakerResources.variantInputs + SageMakerResources.waitInputs
            + SageMakerResources.commonInputs,
        outputs: [
            OutputSpec("endpoint_name", .string, "the endpoint name"),
            OutputSpec("endpoint_arn", .string, "its ARN"),
            OutputSpec("endpoint_config_name", .string, "the endpoint config"),
            OutputSpec("model_name", .string, "the model"),
            OutputSpec("status", .string, "the endpoint's status when the step finished"),
        ])

    func planDetails(inputs: ValueMap) -> [String] {
        ["image \(inputs["image"]?.stringValue ?? "?")", "\(inputs["instance_type"]?.stringValue ?? "?") × \(inputs["instance_count"]?.intValue ?? 1)"]
    }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let image = try ctx.string("image")
        let role = try AWSSteps.role(ctx)
        let sm = SageMakerClient(try await AWSSteps.client(ctx))
        let tags = AWSSteps.tags(ctx)
        let imageBase = SageMakerNames.imageBaseName(image)
        let probe = SageMakerResources.modelSpec(ctx, name: "", image: image, role: role, tags: tags)
        let model = try await SageMakerResources.ensure(
            ctx, type: SageMakerResources.model, request: SageMakerResources.modelRequest(probe),
            newName: { SageMakerResources.name(explicit: ctx.optionalString("model_name"), base: imageBase) },
            describe: { try await SageMakerResources.describeModel(sm, $0) },
            create: { name in
                var spec = probe
                spec.name = name
                return ["arn": .string(try await sm.createModel(spec)), "region": .string(sm.client.region)]
            },
            deleteNow: { try await sm.deleteModel($0) })
        // The endpoint's name is decided once; the config takes the same name (as the SDK does).
        let endpointName = ctx.pendingName(type: SageMakerResources.endpoint)
            ?? SageMakerResources.name(explicit: ctx.optionalString("endpoint_name"), base: ctx.optionalString("base_name") ?? imageBase)
        let variant = try SageMakerResources.variant(ctx, model: model.name)
        let config = try await SageMakerResources.ensure(
            ctx, type: SageMakerResources.config, request: SageMakerResources.variantRequest(variant), newName: { endpointName },
            describe: { try await SageMakerResources.describeConfig(sm, $0) },
            create: { name in
                let arn = try await sm.createEndpointConfig(name: name, variants: [variant], tags: tags)
                return ["arn": .string(arn), "region": .string(sm.client.region), "models": .list([.string(model.name)])]
            },
            deleteNow: { try await sm.deleteEndpointConfig($0) })
        let (endpoint, status) = try await SageMakerResources.endpoint(
            ctx, sm: sm, configName: config.name, newName: { endpointName }, wait: ctx.bool("wait"),
            interval: ctx.double("poll_interval") ?? 30, budget: ctx.double("wait_budget") ?? 3600, tags: tags)
        try await SageMakerResources.deleteStale(endpoint.stale + config.stale + model.stale, ctx: ctx)
        return [
            "endpoint_name": .string(endpoint.name), "endpoint_arn": .string(endpoint.attributes["arn"]?.stringValue ?? ""),
            "endpoint_config_name": .string(config.name), "model_name": .string(model.name), "status": .string(status),
        ]
    }

    func validate(outputs: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck {
        await SageMakerResources.validateEndpoint(outputs["endpoint_name"]?.stringValue, ctx: ctx, region: inputs["region"]?.stringValue)
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws { try await SageMakerResources.destroy(resource, ctx: ctx) }
}

/// `sagemaker.delete`: the notebooks' clean-up cell: the endpoint, then its config, then its models
/// (discovered from the endpoint, or from the ledger when the endpoint is already gone).
struct SageMakerDeleteKind: StepKind {
    let schema = StepKindSchema(
        kind: "sagemaker.delete", version: 1, category: .teardown,
        summary: "Delete an endpoint, then its endpoint config, then its model(s), like the notebooks' clean-up cell.",
        inputs: [
            InputSpec("endpoint_name", .string, required: true, "the endpoint to delete"),
            InputSpec("wait", .bool, default: .bool(false), "wait until the endpoint is really gone"),
            InputSpec("poll_interval", .number, default: .int(30), "seconds between checks while waiting"),
            InputSpec("region", .string, "AWS region (default: the configured region)"),
        ],
        outputs: [
            OutputSpec("endpoint", .string, "the endpoint deleted (empty if it was already gone)"),
            OutputSpec("endpoint_config", .string, "the endpoint config deleted"),
            OutputSpec("models", .list, "the models deleted"),
        ])

    func planDetails(inputs: ValueMap) -> [String] { ["✗ endpoint \(inputs["endpoint_name"]?.stringValue ?? "?") + config + model"] }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let name = try ctx.string("endpoint_name")
        let sm = SageMakerClient(try await AWSSteps.client(ctx))
        // What the ledger knows, for when the endpoint (and so the way to discover the rest) is gone.
        let endpoints = ctx.liveResources(type: SageMakerResources.endpoint).filter { $0.name == name }
        let configName = endpoints.last?.attributes["config"]?.stringValue
        let configs = ctx.liveResources(type: SageMakerResources.config).filter { $0.name == configName }
        let models = configs.flatMap { AWSSteps.strings($0.attributes["models"]) }
        let d = try await sm.deleteDeployment(endpointName: name, endpointConfigName: configName, modelNames: models)
        if ctx.bool("wait"), d.endpoint != nil {
            let interval = ctx.double("poll_interval") ?? 30
            try await sm.waitForEndpointDeleted(name, interval: .milliseconds(Int64(max(0.01, interval) * 1000)))
        }
        let gone = Set([d.endpoint, d.endpointConfig, configName, name].compactMap { $0 } + d.models + models)
        for type in [SageMakerResources.endpoint, SageMakerResources.config, SageMakerResources.model] {
            for e in ctx.liveResources(type: type) where gone.contains(e.name) { try ctx.markDeleted(e) }
        }
        ctx.log("deleted endpoint \(d.endpoint ?? "(gone)"), config \(d.endpointConfig ?? "(gone)"), models \(d.models.joined(separator: ", "))")
        return ["endpoint": .string(d.endpoint ?? ""), "endpoint_config": .string(d.endpointConfig ?? ""), "models": .list(d.models.map(Value.string))]
    }
}
