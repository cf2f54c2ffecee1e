import Foundation
import SousAWS
import SousEngine
import SousRecipe

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

    func planDetails(inputs: ValueMap) -> [String] {
        ["image \(inputs["image"]?.stringValue ?? "?")"]
            + AWSSteps.plainTextSecretNotes(inputs, input: "env", in: "the SageMaker model's environment", readers: "sagemaker:DescribeModel")
    }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let image = try ctx.string("image")
        let role = try AWSSteps.role(ctx)
        AWSSteps.warnPlainTextSecrets(ctx, input: "env", in: "the SageMaker model's environment", readers: "sagemaker:DescribeModel")
        AWSSteps.warnPlainTextSecrets(ctx, input: "tags", in: "the resources' tags", readers: "sagemaker:ListTags")
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
