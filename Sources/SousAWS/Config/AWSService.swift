public import Foundation

/// The AWS services sous talks to, with their signing names, default hosts and endpoint-override keys.
public enum AWSService: String, Sendable, CaseIterable {
    case s3
    case sagemaker
    case sagemakerRuntime = "sagemaker-runtime"
    case sts
    case iam
    /// EventBridge Scheduler (the endpoints' time-to-live schedules).
    case scheduler
    /// Service Quotas (preflight's endpoint quota check).
    case serviceQuotas = "service-quotas"

    /// SigV4 signing name.
    public var signingName: String {
        switch self {
        case .s3: "s3"
        case .sagemaker, .sagemakerRuntime: "sagemaker"
        case .sts: "sts"
        case .iam: "iam"
        case .scheduler: "scheduler"
        case .serviceQuotas: "servicequotas"
        }
    }

    /// Suffix of the service-specific environment override (`AWS_ENDPOINT_URL_<suffix>`).
    public var environmentSuffix: String {
        switch self {
        case .s3: "S3"
        case .sagemaker: "SAGEMAKER"
        case .sagemakerRuntime: "SAGEMAKER_RUNTIME"
        case .sts: "STS"
        case .iam: "IAM"
        case .scheduler: "SCHEDULER"
        case .serviceQuotas: "SERVICE_QUOTAS"
        }
    }

    /// Key of the service in a config-file `[services name]` section.
    public var configKey: String {
        switch self {
        case .s3: "s3"
        case .sagemaker: "sagemaker"
        case .sagemakerRuntime: "sagemaker_runtime"
        case .sts: "sts"
        case .iam: "iam"
        case .scheduler: "scheduler"
        case .serviceQuotas: "service_quotas"
        }
    }

    /// The default public endpoint in `region`.
    public func defaultEndpoint(region: String) -> URL {
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        let host: String
        switch self {
        case .s3: host = "s3.\(region).\(suffix)"
        case .sagemaker: host = "api.sagemaker.\(region).\(suffix)"
        case .sagemakerRuntime: host = "runtime.sagemaker.\(region).\(suffix)"
        case .sts: host = "sts.\(region).\(suffix)"
        case .iam: host = region.hasPrefix("cn-") ? "iam.cn-north-1.amazonaws.com.cn" : "iam.amazonaws.com"
        case .scheduler: host = "scheduler.\(region).\(suffix)"
        case .serviceQuotas: host = "servicequotas.\(region).\(suffix)"
        }
        return URL(string: "https://\(host)")!
    }

    /// The region to sign with (IAM is global and signs with us-east-1 / cn-north-1).
    public func signingRegion(_ region: String) -> String {
        if self == .iam { return region.hasPrefix("cn-") ? "cn-north-1" : "us-east-1" }
        return region
    }
}
