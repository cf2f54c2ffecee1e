import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `sagemaker.endpoint`: CreateEndpoint, then wait for InService.
struct SageMakerEndpointKind: BilledEndpointKind {
    let instanceSource = InstanceSource.configStep(input: "endpoint_config_name")

    let schema = StepKindSchema(
        kind: "sagemaker.endpoint", version: 1, category: .create,
        summary: "Create a SageMaker endpoint from a config and wait until it is InService.",
        inputs: [
            InputSpec("endpoint_config_name", .string, required: true, "the endpoint config"),
            InputSpec("name", .string, "the endpoint name, used as given"),
            InputSpec("base_name", .string, "name_from_base: this plus a timestamp (default: the config name)"),
        ] + SageMakerResources.waitInputs + EndpointTTL.inputs + SageMakerResources.commonInputs,
        outputs: [
            OutputSpec("endpoint_name", .string, "the endpoint name"),
            OutputSpec("endpoint_arn", .string, "its ARN"),
            OutputSpec("endpoint_config_name", .string, "its config"),
            OutputSpec("status", .string, "its status when the step finished (InService after a wait)"),
        ])

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let ttl = try EndpointTTL.settings(ctx)  // a bad ttl fails before anything is created
        let configName = try ctx.string("endpoint_config_name")
        let sm = SageMakerClient(try await AWSSteps.client(ctx))
        let (o, status) = try await SageMakerResources.endpoint(
            ctx, sm: sm, configName: configName,
            newName: { SageMakerResources.name(explicit: ctx.optionalString("name"), base: ctx.optionalString("base_name") ?? configName) },
            wait: ctx.bool("wait"), interval: ctx.double("poll_interval") ?? 30, budget: ctx.double("wait_budget") ?? 3600,
            tags: AWSSteps.tags(ctx), billing: try await SageMakerResources.billing(ctx, sm: sm, configName: configName), ttl: ttl)
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
