import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `sagemaker.endpoint-config`: CreateEndpointConfig with one production variant.
struct SageMakerEndpointConfigKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "sagemaker.endpoint-config", version: 1, category: .create,
        summary: "Create a SageMaker endpoint config with one production variant.")

    struct Inputs: StepInputs {
        @Input("the model to serve") var modelName: String
        @Input("the config name (default: <model_name>-config, as the LMI notebook does)") var name: String?
        @InputGroup var variant: SageMakerResources.VariantInputs
        @InputGroup var aws: SageMakerResources.CommonInputs
    }

    struct Outputs: StepOutputs {
        @Output("the config name") var endpointConfigName: String
        @Output("its ARN") var endpointConfigArn: String
    }

    func planDetails(_ inputs: Inputs) -> [String] { ["\(inputs.variant.instanceType) × \(inputs.variant.instanceCount)"] }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let model = inputs.modelName
        let variant = SageMakerResources.variant(inputs.variant, model: model)
        let sm = SageMakerClient(try await AWSSteps.client(ctx, region: inputs.aws.region))
        let tags = AWSSteps.tags(ctx, extra: inputs.aws.tags)
        let o = try await SageMakerResources.ensure(
            ctx, type: SageMakerResources.config, request: SageMakerResources.variantRequest(variant),
            newName: {
                if let n = inputs.name, !n.isEmpty { return n }
                return String("\(model)-config".suffix(63))
            },
            describe: { try await SageMakerResources.describeConfig(sm, $0) },
            create: { name in
                let arn = try await sm.createEndpointConfig(name: name, variants: [variant], tags: tags)
                return SageMakerResources.configAttributes(ctx, sm: sm, arn: arn, variant: variant)
            },
            deleteNow: { try await sm.deleteEndpointConfig($0) })
        try await SageMakerResources.deleteStale(o.stale, ctx: ctx)
        var outputs = Outputs()
        outputs.endpointConfigName = o.name
        outputs.endpointConfigArn = o.attributes["arn"]?.stringValue ?? ""
        return outputs
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        let name = outputs.endpointConfigName
        do {
            let sm = SageMakerClient(try await AWSSteps.client(ctx, region: inputs.aws.region))
            return try await SageMakerResources.describeConfig(sm, name) == nil ? .invalid("endpoint config \(name) no longer exists") : .valid
        } catch {
            return .invalid("could not check endpoint config \(name) (\(error))")
        }
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws { try await SageMakerResources.destroy(resource, ctx: ctx) }
}
