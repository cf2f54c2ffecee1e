import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `sagemaker.model`: CreateModel (image, env, model data, role).
struct SageMakerModelKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "sagemaker.model", version: 1, category: .create,
        summary: "Create a SageMaker model (image, environment, model data, execution role).")

    struct Inputs: StepInputs {
        @Input("the model name, used as given") var name: String?
        @Input("name_from_base: this plus a timestamp (default: the image's repository name)") var baseName: String?
        @InputGroup var model: SageMakerResources.ModelInputs
        @InputGroup var aws: SageMakerResources.CommonInputs
    }

    struct Outputs: StepOutputs {
        @Output("the model name") var modelName: String
        @Output("its ARN") var modelArn: String
    }

    func planDetails(_ inputs: Inputs) -> [String] {
        ["image \(inputs.model.image)"]
            + AWSSteps.plainTextSecretNotes(inputs.model.env, input: "env", in: "the SageMaker model's environment", readers: "sagemaker:DescribeModel")
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let image = inputs.model.image
        let role = try AWSSteps.role(ctx, given: inputs.model.role)
        AWSSteps.warnPlainTextSecrets(ctx, inputs.model.env, input: "env", in: "the SageMaker model's environment", readers: "sagemaker:DescribeModel")
        AWSSteps.warnPlainTextSecrets(ctx, inputs.aws.tags, input: "tags", in: "the resources' tags", readers: "sagemaker:ListTags")
        let sm = SageMakerClient(try await AWSSteps.client(ctx, region: inputs.aws.region))
        let tags = AWSSteps.tags(ctx, extra: inputs.aws.tags)
        let probe = SageMakerResources.modelSpec(inputs.model, name: "", role: role, tags: tags)
        let o = try await SageMakerResources.ensure(
            ctx, type: SageMakerResources.model, request: SageMakerResources.modelRequest(probe),
            newName: { SageMakerResources.name(explicit: inputs.name, base: inputs.baseName ?? SageMakerNames.imageBaseName(image)) },
            describe: { try await SageMakerResources.describeModel(sm, $0) },
            create: { name in
                var spec = probe
                spec.name = name
                let arn = try await sm.createModel(spec)
                return ["arn": .string(arn), "region": .string(sm.client.region)]
            },
            deleteNow: { try await sm.deleteModel($0) })
        try await SageMakerResources.deleteStale(o.stale, ctx: ctx)
        var outputs = Outputs()
        outputs.modelName = o.name
        outputs.modelArn = o.attributes["arn"]?.stringValue ?? ""
        return outputs
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        let name = outputs.modelName
        do {
            let sm = SageMakerClient(try await AWSSteps.client(ctx, region: inputs.aws.region))
            return try await SageMakerResources.describeModel(sm, name) == nil ? .invalid("model \(name) no longer exists") : .valid
        } catch {
            return .invalid("could not check model \(name) (\(error))")
        }
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws { try await SageMakerResources.destroy(resource, ctx: ctx) }
}
