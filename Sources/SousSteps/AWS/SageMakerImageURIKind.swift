import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `sagemaker.image-uri`: the serving container image for a framework, version and region (static table).
struct SageMakerImageURIKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "sagemaker.image-uri", version: 1, category: .pure,
        summary: "The TGI or DJL/LMI serving image URI for a version and region (like sagemaker.image_uris.retrieve).")

    struct Inputs: StepInputs {
        @Input(allowed: SageMakerImageURIs.Framework.allCases.map(\.rawValue), "huggingface-llm (TGI), djl-deepspeed or djl-lmi")
        var framework: String
        @Input("container version, e.g. 1.0.3 (TGI) or 0.25.0 (djl-deepspeed)") var version: String
        @Input("AWS region (default: the configured region)") var region: String?
    }

    struct Outputs: StepOutputs {
        @Output("the image URI") var image: String
        @Output("the region it is for") var region: String
    }

    static func resolve(_ inputs: Inputs, environment: [String: String]) async throws -> Outputs {
        guard let fw = SageMakerImageURIs.Framework(rawValue: inputs.framework) else {
            throw StepError("input 'framework' must be one of \(SageMakerImageURIs.Framework.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var outputs = Outputs()
        outputs.region = inputs.region ?? ""
        if outputs.region.isEmpty { outputs.region = try await AWSConfiguration(environment: environment).resolveRegion() }
        do {
            outputs.image = try SageMakerImageURIs.uri(fw, version: inputs.version, region: outputs.region)
        } catch {
            throw StepError(String(describing: error))
        }
        return outputs
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let outputs = try await Self.resolve(inputs, environment: ctx.environment)
        ctx.log("image \(outputs.image)")
        return outputs
    }

    /// The region may come from the environment, which is not part of the fingerprint: recompute.
    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        guard let now = try? await Self.resolve(inputs, environment: ctx.environment) else { return .invalid("cannot resolve the image") }
        return now.image == outputs.image ? .valid : .invalid("the image for this region is now \(now.image)")
    }
}
