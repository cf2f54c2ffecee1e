import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `s3.delete-prefix`: deletes every object under a prefix (the LMI clean-up cell).
struct S3DeletePrefixKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "s3.delete-prefix", version: 1, category: .teardown, summary: "Delete every object under s3://bucket/prefix/ (clean-up).")

    struct Inputs: StepInputs {
        @Input("the bucket") var bucket: String
        @Input("the prefix; objects equal to it or under prefix/ are deleted (never empty)") var prefix: String
        @Input("AWS region of the bucket (default: the configured region)") var region: String?
    }

    struct Outputs: StepOutputs {
        @Output("number of objects deleted") var deleted: Int
        @Output("s3://bucket/prefix") var uri: String
    }

    func planDetails(_ inputs: Inputs) -> [String] { ["✗ s3://\(inputs.bucket)/\(inputs.prefix)/"] }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let bucket = inputs.bucket
        let prefix = inputs.prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !prefix.isEmpty else {
            throw StepError("refusing to delete with an empty prefix: that would empty the whole bucket \(bucket)")
        }
        let s3 = S3Client(try await AWSSteps.client(ctx, region: inputs.region))
        let keys = try await s3.listObjects(bucket: bucket, prefix: prefix).map(\.key).filter { $0 == prefix || $0.hasPrefix(prefix + "/") }
        let failed = try await s3.deleteObjects(bucket: bucket, keys: keys)
        if let f = failed.first {
            throw StepError("\(failed.count) of \(keys.count) objects under s3://\(bucket)/\(prefix)/ were not deleted, e.g. \(f.key): \(f.code) \(f.message)")
        }
        // Uploads recorded under the prefix are gone now.
        let base = "s3://\(bucket)/\(prefix)"
        for e in ctx.liveResources(type: S3UploadKind.resourceType) where e.name == base || e.name.hasPrefix(base + "/") {
            try ctx.markDeleted(e)
        }
        ctx.log("deleted \(keys.count) objects under \(base)/")
        var outputs = Outputs()
        outputs.deleted = keys.count
        outputs.uri = base
        return outputs
    }
}
