public import SousEngine

/// Every built-in step kind.
public enum BuiltinSteps {
    /// The `preflight` kind's name (`sous run --preflight-only` runs the steps of this kind).
    public static let preflight = PreflightKind.name

    /// The registry the CLI uses.
    public static func registry() -> StepRegistry {
        StepRegistry([
            FileWriteKind(), ArchiveTarKind(), ShellKind(), PrintKind(),
            // AWS (docs/steps-aws.md)
            AWSIdentityKind(), S3DefaultBucketKind(), S3UploadKind(), S3DeletePrefixKind(),
            SageMakerImageURIKind(), SageMakerModelKind(), SageMakerEndpointConfigKind(), SageMakerEndpointKind(),
            SageMakerDeployKind(), SageMakerDeleteKind(), PreflightKind(),
            // Hugging Face Hub
            HFSnapshotKind(),
            // Inference
            InvokeStreamKind(),
        ])
    }
}
