import Foundation

/// A wait on an endpoint ended badly.
public struct SageMakerWaitError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The endpoint reached `Failed`; carries SageMaker's FailureReason.
        case failed(reason: String)
        /// The budget ran out; carries the last status seen.
        case timedOut(lastStatus: String, budget: Duration)
    }
    public var endpointName: String
    public var kind: Kind

    public var description: String {
        switch kind {
        case .failed(let reason):
            let r = reason.isEmpty ? "no reason given" : reason
            var s = "SageMaker endpoint \(endpointName) failed to deploy: \(r)"
            if !s.hasSuffix(".") { s += "." }
            if reason.lowercased().contains("health check") {
                s += " Hint: the container did not become healthy in time; raise container_startup_health_check_timeout (max 3600 s) or use a larger instance, and read the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/\(endpointName))."
            } else {
                s += " Hint: read the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/\(endpointName)) and delete the endpoint before retrying."
            }
            return s
        case .timedOut(let last, let budget):
            return "SageMaker endpoint \(endpointName) was still \(last) after \(Int(budget.components.seconds)) s of waiting; it may still come up: check it with DescribeEndpoint or raise the wait budget."
        }
    }
}
