public import SousEngine

/// Every built-in step kind.
public enum BuiltinSteps {
    /// The registry the CLI uses.
    public static func registry() -> StepRegistry {
        StepRegistry([
            FileWriteKind(), ArchiveTarKind(), ShellKind(), PrintKind(),
            // AWS (docs/steps-aws.md)
            AWSIdentityKind(), S3DefaultBucketKind(), S3UploadKind(), S3DeletePrefixKind(),
            SageMakerImageURIKind(), SageMakerModelKind(), SageMakerEndpointConfigKind(), SageMakerEndpointKind(),
            SageMakerDeployKind(), SageMakerDeleteKind(),
            // Hugging Face Hub
            HFSnapshotKind(),
            // Inference
            InvokeStreamKind(),
        ])
    }
}
