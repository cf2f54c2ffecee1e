import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `sagemaker.delete`: the notebooks' clean-up cell: the endpoint, then its config, then its models
/// (discovered from the endpoint, or from the ledger when the endpoint is already gone).
struct SageMakerDeleteKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "sagemaker.delete", version: 1, category: .teardown,
        summary: "Delete an endpoint, then its endpoint config, then its model(s), like the notebooks' clean-up cell.")

    struct Inputs: StepInputs {
        @Input("the endpoint to delete") var endpointName: String
        @Input(default: false, "wait until the endpoint is really gone") var wait: Bool
        @Input(default: 30, "seconds between checks while waiting (at least 0.05)") var pollInterval: Double
        @Input("AWS region (default: the configured region)") var region: String?
    }

    struct Outputs: StepOutputs {
        @Output("the endpoint deleted (empty if it was already gone)") var endpoint: String
        @Output("the endpoint config deleted") var endpointConfig: String
        @Output("the models deleted") var models: [Value]
    }

    func planDetails(_ inputs: Inputs) -> [String] { ["✗ endpoint \(inputs.endpointName) + config + model"] }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let name = inputs.endpointName
        let sm = SageMakerClient(try await AWSSteps.client(ctx, region: inputs.region))
        // What the ledger knows, for when the endpoint (and so the way to discover the rest) is gone.
        let endpoints = ctx.liveResources(type: SageMakerResources.endpoint).filter { $0.name == name }
        let configName = endpoints.last?.attributes["config"]?.stringValue
        let configs = ctx.liveResources(type: SageMakerResources.config).filter { $0.name == configName }
        let models = configs.flatMap { AWSSteps.strings($0.attributes["models"]) }
        let d = try await sm.deleteDeployment(endpointName: name, endpointConfigName: configName, modelNames: models)
        if inputs.wait, d.endpoint != nil {
            try await sm.waitForEndpointDeleted(name, interval: .milliseconds(Int64(max(0, inputs.pollInterval) * 1000)))
        }
        let gone = Set([d.endpoint, d.endpointConfig, configName, name].compactMap { $0 } + d.models + models)
        for type in [SageMakerResources.endpoint, SageMakerResources.config, SageMakerResources.model] {
            for e in ctx.liveResources(type: type) where gone.contains(e.name) { try ctx.markDeleted(e) }
        }
        try await EndpointTTL.disarm(ctx, endpoint: name)
        ctx.log("deleted endpoint \(d.endpoint ?? "(gone)"), config \(d.endpointConfig ?? "(gone)"), models \(d.models.joined(separator: ", "))")
        var outputs = Outputs()
        outputs.endpoint = d.endpoint ?? ""
        outputs.endpointConfig = d.endpointConfig ?? ""
        outputs.models = d.models.map(Value.string)
        return outputs
    }
}
