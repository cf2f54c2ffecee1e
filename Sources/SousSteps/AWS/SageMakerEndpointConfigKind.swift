import Foundation
import SousAWS
import SousEngine
import SousRecipe

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
                return SageMakerResources.configAttributes(ctx, sm: sm, arn: arn, variant: variant)
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
