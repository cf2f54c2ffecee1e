import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `sagemaker.endpoint`: CreateEndpoint, then wait for InService.
struct SageMakerEndpointKind: BilledEndpointKind {
    let instanceSource = InstanceSource.configStep(input: "endpoint_config_name")

    static let configuration = StepKindConfiguration(
        name: "sagemaker.endpoint", version: 1, category: .create,
        summary: "Create a SageMaker endpoint from a config and wait until it is InService.")

    struct Inputs: StepInputs {
        @Input("the endpoint config") var endpointConfigName: String
        @Input("the endpoint name, used as given") var name: String?
        @Input("name_from_base: this plus a timestamp (default: the config name)") var baseName: String?
        @InputGroup var waiting: SageMakerResources.WaitInputs
        @InputGroup var ttl: EndpointTTL.Inputs
        @InputGroup var aws: SageMakerResources.CommonInputs
    }

    struct Outputs: StepOutputs {
        @Output("the endpoint name") var endpointName: String
        @Output("its ARN") var endpointArn: String
        @Output("its config") var endpointConfigName: String
        @Output("its status when the step finished (InService after a wait)") var status: String
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let ttl = try EndpointTTL.settings(ctx, inputs.ttl)  // a bad ttl fails before anything is created
        let configName = inputs.endpointConfigName
        let sm = SageMakerClient(try await AWSSteps.client(ctx, region: inputs.aws.region))
        let (o, status) = try await SageMakerResources.endpoint(
            ctx, sm: sm, configName: configName,
            newName: { SageMakerResources.name(explicit: inputs.name, base: inputs.baseName ?? configName) }, waiting: inputs.waiting,
            tags: AWSSteps.tags(ctx, extra: inputs.aws.tags), billing: try await SageMakerResources.billing(ctx, sm: sm, configName: configName),
            ttl: ttl)
        try await SageMakerResources.deleteStale(o.stale, ctx: ctx)
        var outputs = Outputs()
        outputs.endpointName = o.name
        outputs.endpointArn = o.attributes["arn"]?.stringValue ?? ""
        outputs.endpointConfigName = configName
        outputs.status = status
        return outputs
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        await SageMakerResources.validateEndpoint(outputs.endpointName, ctx: ctx, region: inputs.aws.region)
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws { try await SageMakerResources.destroy(resource, ctx: ctx) }
}
