import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `s3.default-bucket`: `sagemaker-{region}-{account}`, created when missing (`sagemaker.Session.default_bucket()`).
///
/// Only a bucket sous created goes into the ledger; `sous destroy` deletes it only when it is empty
/// (the default bucket is shared with everything else SageMaker does in the account).
struct S3DefaultBucketKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "s3.default-bucket", version: 1, category: .create,
        summary: "The SageMaker default bucket sagemaker-{region}-{account}, created when missing.")

    struct Inputs: StepInputs {
        @Input("AWS region (default: the configured region)") var region: String?
        @Input("account id (default: asked from STS)") var account: String?
        @Input("use this bucket instead of the default name (created when missing too); empty = the default") var bucket: String?
        @Input("extra tags for a bucket sous creates") var tags: ValueMap?
    }

    struct Outputs: StepOutputs {
        @Output("the bucket name") var bucket: String
        @Output("its region") var region: String
        @Output("whether this step created it") var created: Bool
    }

    static let resourceType = "s3.bucket"

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let client = try await AWSSteps.client(ctx, region: inputs.region)
        let name: String
        if let b = inputs.bucket, !b.isEmpty {
            name = b
        } else if let a = inputs.account, !a.isEmpty {
            name = S3Client.defaultBucketName(region: client.region, accountId: a)
        } else {
            name = S3Client.defaultBucketName(region: client.region, accountId: try await STSClient(client).getCallerIdentity().account)
        }
        var outputs = Outputs()
        outputs.bucket = name
        outputs.region = client.region
        outputs.created = false
        let s3 = S3Client(client)
        if try await s3.bucketExists(name) {
            ctx.log("bucket \(name) exists")
            return outputs
        }
        let tags = AWSSteps.tags(ctx, extra: inputs.tags)
        _ = try await ctx.createResource(
            type: Self.resourceType, name: name, request: ResourceRequest(.map(["region": .string(client.region)])),
            find: { try await s3.bucketExists(name) ? ["region": .string(client.region)] : nil },
            create: {
                try await s3.createBucket(name)
                do {
                    try await s3.tagBucket(name, tags: tags)
                } catch {
                    ctx.warn(Self.untaggedWarning(bucket: name, error))
                }
                return ["region": .string(client.region)]
            })
        ctx.log("created bucket \(name)")
        outputs.created = true
        return outputs
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        let bucket = outputs.bucket
        do {
            let client = try await AWSSteps.client(ctx, region: outputs.region)
            return try await S3Client(client).bucketExists(bucket) ? .valid : .invalid("bucket \(bucket) no longer exists")
        } catch {
            return .invalid("could not check bucket \(bucket) (\(error))")
        }
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws {
        let client = try await AWSClientCache.shared(ctx).client(ctx, region: resource.attributes["region"]?.stringValue)
        let s3 = S3Client(client)
        guard try await s3.bucketExists(resource.name) else { return }
        if try await !s3.listObjectsPage(bucket: resource.name, prefix: nil, maxKeys: 1).objects.isEmpty {
            ctx.warn("kept bucket \(resource.name): it still holds objects sous did not upload")
            return
        }
        try await s3.deleteBucket(resource.name)
    }

    /// The warning for a bucket sous created but could not tag (`PutBucketTagging` failed), with the AWS error
    /// code and message.
    ///
    /// A warning, not an error: the bucket exists and is in the ledger (so `sous destroy` finds it), the tags only
    /// help people find what a workspace made, and an identity allowed to create buckets may still lack
    /// `s3:PutBucketTagging`; failing the step there would stop the deployment for a label.
    static func untaggedWarning(bucket: String, _ error: any Error) -> String {
        let why = (error as? AWSError).map { "\($0.code): \($0.message)" } ?? "\(error)"
        return "created bucket \(bucket) but could not tag it (\(why))"
    }
}
