import Foundation
import SousAWS
import SousEngine
import SousRecipe

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
        try await EndpointTTL.disarm(ctx, endpoint: name)
        ctx.log("deleted endpoint \(d.endpoint ?? "(gone)"), config \(d.endpointConfig ?? "(gone)"), models \(d.models.joined(separator: ", "))")
        return ["endpoint": .string(d.endpoint ?? ""), "endpoint_config": .string(d.endpointConfig ?? ""), "models": .list(d.models.map(Value.string))]
    }
}
