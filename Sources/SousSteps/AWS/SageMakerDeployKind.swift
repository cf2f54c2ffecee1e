import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `sagemaker.deploy`: model, endpoint config and endpoint in one step, as `HuggingFaceModel.deploy` does
/// (model named after the image, endpoint config named like the endpoint, variant AllTraffic).
struct SageMakerDeployKind: BilledEndpointKind {
    let instanceSource = InstanceSource.inputs

    static let configuration = StepKindConfiguration(
        name: "sagemaker.deploy", version: 1, category: .create,
        summary: "Deploy a model to a SageMaker endpoint (CreateModel + CreateEndpointConfig + CreateEndpoint + wait), like HuggingFaceModel.deploy.")

    struct Inputs: StepInputs {
        @Input("the endpoint name, used as given") var endpointName: String?
        @Input("name_from_base for the endpoint: this plus a timestamp (default: the image's repository name)") var baseName: String?
        @Input("the model name (default: name_from_base of the image's repository name)") var modelName: String?
        @InputGroup var model: SageMakerResources.ModelInputs
        @InputGroup var variant: SageMakerResources.VariantInputs
        @InputGroup var waiting: SageMakerResources.WaitInputs
        @InputGroup var ttl: EndpointTTL.Inputs
        @InputGroup var aws: SageMakerResources.CommonInputs
    }

    struct Outputs: StepOutputs {
        @Output("the endpoint name") var endpointName: String
        @Output("its ARN") var endpointArn: String
        @Output("the endpoint config") var endpointConfigName: String
        @Output("the model") var modelName: String
        @Output("the endpoint's status when the step finished") var status: String
    }

    func planDetails(_ inputs: Inputs) -> [String] {
        ["image \(inputs.model.image)", "\(inputs.variant.instanceType) × \(inputs.variant.instanceCount)"]
            + AWSSteps.plainTextSecretNotes(inputs.model.env, input: "env", in: "the SageMaker model's environment", readers: "sagemaker:DescribeModel")
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let ttl = try EndpointTTL.settings(ctx, inputs.ttl)  // a bad ttl fails before anything is created
        let image = inputs.model.image
        let role = try AWSSteps.role(ctx, given: inputs.model.role)
        AWSSteps.warnPlainTextSecrets(ctx, inputs.model.env, input: "env", in: "the SageMaker model's environment", readers: "sagemaker:DescribeModel")
        AWSSteps.warnPlainTextSecrets(ctx, inputs.aws.tags, input: "tags", in: "the resources' tags", readers: "sagemaker:ListTags")
        let sm = SageMakerClient(try await AWSSteps.client(ctx, region: inputs.aws.region))
        let tags = AWSSteps.tags(ctx, extra: inputs.aws.tags)
        let imageBase = SageMakerNames.imageBaseName(image)
        let probe = SageMakerResources.modelSpec(inputs.model, name: "", role: role, tags: tags)
        let model = try await SageMakerResources.ensure(
            ctx, type: SageMakerResources.model, request: SageMakerResources.modelRequest(probe),
            newName: { SageMakerResources.name(explicit: inputs.modelName, base: imageBase) },
            describe: { try await SageMakerResources.describeModel(sm, $0) },
            create: { name in
                var spec = probe
                spec.name = name
                return ["arn": .string(try await sm.createModel(spec)), "region": .string(sm.client.region)]
            },
            deleteNow: { try await sm.deleteModel($0) })
        // The endpoint's name is decided once; the config takes the same name (as the SDK does).
        let endpointName = ctx.pendingName(type: SageMakerResources.endpoint)
            ?? SageMakerResources.name(explicit: inputs.endpointName, base: inputs.baseName ?? imageBase)
        let variant = SageMakerResources.variant(inputs.variant, model: model.name)
        let config = try await SageMakerResources.ensure(
            ctx, type: SageMakerResources.config, request: SageMakerResources.variantRequest(variant), newName: { endpointName },
            describe: { try await SageMakerResources.describeConfig(sm, $0) },
            create: { name in
                let arn = try await sm.createEndpointConfig(name: name, variants: [variant], tags: tags)
                return SageMakerResources.configAttributes(ctx, sm: sm, arn: arn, variant: variant)
            },
            deleteNow: { try await sm.deleteEndpointConfig($0) })
        let (endpoint, status) = try await SageMakerResources.endpoint(
            ctx, sm: sm, configName: config.name, newName: { endpointName }, waiting: inputs.waiting, tags: tags,
            billing: EndpointBilling(
                instanceType: variant.instanceType, count: variant.initialInstanceCount, region: sm.client.region,
                local: EndpointCosts.isLocal(ctx.environment)), ttl: ttl)
        try await SageMakerResources.deleteStale(endpoint.stale + config.stale + model.stale, ctx: ctx)
        var outputs = Outputs()
        outputs.endpointName = endpoint.name
        outputs.endpointArn = endpoint.attributes["arn"]?.stringValue ?? ""
        outputs.endpointConfigName = config.name
        outputs.modelName = model.name
        outputs.status = status
        return outputs
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        await SageMakerResources.validateEndpoint(outputs.endpointName, ctx: ctx, region: inputs.aws.region)
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws { try await SageMakerResources.destroy(resource, ctx: ctx) }
}
