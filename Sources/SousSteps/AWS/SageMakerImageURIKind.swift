import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `sagemaker.image-uri`: the serving container image for a framework, version and region (static table).
struct SageMakerImageURIKind: StepKind {
    let schema = StepKindSchema(
        kind: "sagemaker.image-uri", version: 1, category: .pure,
        summary: "The TGI or DJL/LMI serving image URI for a version and region (like sagemaker.image_uris.retrieve).",
        inputs: [
            InputSpec("framework", .string, required: true, allowed: SageMakerImageURIs.Framework.allCases.map(\.rawValue), "huggingface-llm (TGI), djl-deepspeed or djl-lmi"),
            InputSpec("version", .string, required: true, "container version, e.g. 1.0.3 (TGI) or 0.25.0 (djl-deepspeed)"),
            InputSpec("region", .string, "AWS region (default: the configured region)"),
        ],
        outputs: [
            OutputSpec("image", .string, "the image URI"),
            OutputSpec("region", .string, "the region it is for"),
        ])

    static func resolve(_ inputs: ValueMap, environment: [String: String]) async throws -> (String, String) {
        guard let fw = inputs["framework"]?.stringValue.flatMap(SageMakerImageURIs.Framework.init(rawValue:)) else {
            throw StepError("input 'framework' must be one of \(SageMakerImageURIs.Framework.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let version = inputs["version"]?.stringValue ?? inputs["version"]?.interpolationText ?? ""
        var region = inputs["region"]?.stringValue ?? ""
        if region.isEmpty { region = try await AWSConfiguration(environment: environment).resolveRegion() }
        do {
            return (try SageMakerImageURIs.uri(fw, version: version, region: region), region)
        } catch {
            throw StepError(String(describing: error))
        }
    }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let (image, region) = try await Self.resolve(ctx.inputs, environment: ctx.environment)
        ctx.log("image \(image)")
        return ["image": .string(image), "region": .string(region)]
    }

    /// The region may come from the environment, which is not part of the fingerprint: recompute.
    func validate(outputs: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck {
        guard let (image, _) = try? await Self.resolve(inputs, environment: ctx.environment) else { return .invalid("cannot resolve the image") }
        return image == outputs["image"]?.stringValue ? .valid : .invalid("the image for this region is now \(image)")
    }
}
