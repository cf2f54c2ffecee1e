import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `s3.delete-prefix`: deletes every object under a prefix (the LMI clean-up cell).
struct S3DeletePrefixKind: StepKind {
    let schema = StepKindSchema(
        kind: "s3.delete-prefix", version: 1, category: .teardown,
        summary: "Delete every object under s3://bucket/prefix/ (clean-up).",
        inputs: [
            InputSpec("bucket", .string, required: true, "the bucket"),
            InputSpec("prefix", .string, required: true, "the prefix; objects equal to it or under prefix/ are deleted (never empty)"),
            InputSpec("region", .string, "AWS region of the bucket (default: the configured region)"),
        ],
        outputs: [
            OutputSpec("deleted", .int, "number of objects deleted"),
            OutputSpec("uri", .string, "s3://bucket/prefix"),
        ])

    func planDetails(inputs: ValueMap) -> [String] {
        ["✗ s3://\(inputs["bucket"]?.stringValue ?? "?")/\(inputs["prefix"]?.stringValue ?? "?")/"]
    }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let bucket = try ctx.string("bucket")
        let prefix = try ctx.string("prefix").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !prefix.isEmpty else {
            throw StepError("refusing to delete with an empty prefix: that would empty the whole bucket \(bucket)")
        }
        let s3 = S3Client(try await AWSSteps.client(ctx))
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
        return ["deleted": .int(keys.count), "uri": .string(base)]
    }
}
