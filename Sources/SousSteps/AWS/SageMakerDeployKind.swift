import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `sagemaker.deploy`: model, endpoint config and endpoint in one step, as `HuggingFaceModel.deploy` does
/// (model named after the image, endpoint config named like the endpoint, variant AllTraffic).
struct SageMakerDeployKind: BilledEndpointKind {
    let instanceSource = InstanceSource.inputs

    let schema = StepKindSchema(
        kind: "sagemaker.deploy", version: 1, category: .create,
        summary: "Deploy a model to a SageMaker endpoint (CreateModel + CreateEndpointConfig + CreateEndpoint + wait), like HuggingFaceModel.deploy.",
        inputs: [
            InputSpec("endpoint_name", .string, "the endpoint name, used as given"),
            InputSpec("base_name", .string, "name_from_base for the endpoint: this plus a timestamp (default: the image's repository name)"),
            InputSpec("model_name", .string, "the model name (default: name_from_base of the image's repository name)"),
        ] + SageMakerResources.modelInputs + SageMakerResources.variantInputs + SageMakerResources.waitInputs
            + EndpointTTL.inputs + SageMakerResources.commonInputs,
        outputs: [
            OutputSpec("endpoint_name", .string, "the endpoint name"),
            OutputSpec("endpoint_arn", .string, "its ARN"),
            OutputSpec("endpoint_config_name", .string, "the endpoint config"),
            OutputSpec("model_name", .string, "the model"),
            OutputSpec("status", .string, "the endpoint's status when the step finished"),
        ])

    func planDetails(inputs: ValueMap) -> [String] {
        ["image \(inputs["image"]?.stringValue ?? "?")", "\(inputs["instance_type"]?.stringValue ?? "?") × \(inputs["instance_count"]?.intValue ?? 1)"]
            + AWSSteps.plainTextSecretNotes(inputs, input: "env", in: "the SageMaker model's environment", readers: "sagemaker:DescribeModel")
    }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let ttl = try EndpointTTL.settings(ctx)  // a bad ttl fails before anything is created
        let image = try ctx.string("image")
        let role = try AWSSteps.role(ctx)
        AWSSteps.warnPlainTextSecrets(ctx, input: "env", in: "the SageMaker model's environment", readers: "sagemaker:DescribeModel")
        AWSSteps.warnPlainTextSecrets(ctx, input: "tags", in: "the resources' tags", readers: "sagemaker:ListTags")
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
                return SageMakerResources.configAttributes(ctx, sm: sm, arn: arn, variant: variant)
            },
            deleteNow: { try await sm.deleteEndpointConfig($0) })
        let (endpoint, status) = try await SageMakerResources.endpoint(
            ctx, sm: sm, configName: config.name, newName: { endpointName }, wait: ctx.bool("wait"),
            interval: ctx.double("poll_interval") ?? 30, budget: ctx.double("wait_budget") ?? 3600, tags: tags,
            billing: EndpointBilling(
                instanceType: variant.instanceType, count: variant.initialInstanceCount, region: sm.client.region,
                local: EndpointCosts.isLocal(ctx.environment)), ttl: ttl)
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
