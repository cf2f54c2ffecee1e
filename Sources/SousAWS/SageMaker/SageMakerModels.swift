public import Foundation

/// A SageMaker model to create (`CreateModel` with a single primary container).
public struct SageMakerModelSpec: Sendable, Equatable {
    public var name: String
    public var executionRoleArn: String
    public var image: String
    /// `ModelDataUrl`: an S3 object (e.g. the LMI `model.tar.gz` code artifact).
    public var modelDataUrl: String?
    /// Uncompressed weights under an S3 prefix (`ModelDataSource.S3DataSource`, `S3Prefix`, `CompressionType None`).
    public var modelDataS3Prefix: String?
    public var environment: [String: String]
    public var tags: [String: String]
    public var enableNetworkIsolation: Bool?

    public init(
        name: String, executionRoleArn: String, image: String, modelDataUrl: String? = nil,
        modelDataS3Prefix: String? = nil, environment: [String: String] = [:], tags: [String: String] = [:],
        enableNetworkIsolation: Bool? = nil
    ) {
        self.name = name
        self.executionRoleArn = executionRoleArn
        self.image = image
        self.modelDataUrl = modelDataUrl
        self.modelDataS3Prefix = modelDataS3Prefix
        self.environment = environment
        self.tags = tags
        self.enableNetworkIsolation = enableNetworkIsolation
    }
}

/// One production variant of an endpoint config.
public struct SageMakerProductionVariant: Sendable, Equatable {
    public var variantName: String
    public var modelName: String
    public var instanceType: String
    public var initialInstanceCount: Int
    public var initialVariantWeight: Double?
    public var volumeSizeInGB: Int?
    /// 60–3600.
    public var modelDataDownloadTimeoutInSeconds: Int?
    /// 60–3600.
    public var containerStartupHealthCheckTimeoutInSeconds: Int?
    /// `LEAST_OUTSTANDING_REQUESTS` or `RANDOM`.
    public var routingStrategy: String?

    public init(
        variantName: String = "AllTraffic", modelName: String, instanceType: String, initialInstanceCount: Int = 1,
        initialVariantWeight: Double? = 1, volumeSizeInGB: Int? = nil, modelDataDownloadTimeoutInSeconds: Int? = nil,
        containerStartupHealthCheckTimeoutInSeconds: Int? = nil, routingStrategy: String? = nil
    ) {
        self.variantName = variantName
        self.modelName = modelName
        self.instanceType = instanceType
        self.initialInstanceCount = initialInstanceCount
        self.initialVariantWeight = initialVariantWeight
        self.volumeSizeInGB = volumeSizeInGB
        self.modelDataDownloadTimeoutInSeconds = modelDataDownloadTimeoutInSeconds
        self.containerStartupHealthCheckTimeoutInSeconds = containerStartupHealthCheckTimeoutInSeconds
        self.routingStrategy = routingStrategy
    }
}

/// `DescribeEndpoint` output (the fields sous uses).
public struct SageMakerEndpoint: Sendable, Equatable {
    public var name: String
    public var arn: String
    public var configName: String
    /// `OutOfService | Creating | Updating | SystemUpdating | RollingBack | InService | Deleting | Failed | UpdateRollbackFailed`.
    public var status: String
    public var failureReason: String?
    public var creationTime: Date?
    public var lastModifiedTime: Date?
}

/// `DescribeModel` output (the fields sous uses).
public struct SageMakerModel: Sendable, Equatable {
    public var name: String
    public var arn: String
    public var executionRoleArn: String
    public var image: String?
    public var modelDataUrl: String?
    public var environment: [String: String]
}

/// `DescribeEndpointConfig` output (the fields sous uses).
public struct SageMakerEndpointConfig: Sendable, Equatable {
    public var name: String
    public var arn: String
    public var variants: [SageMakerProductionVariant]
}
