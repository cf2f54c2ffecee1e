import Foundation
public import SousHTTP

extension AWSConfiguration {
    /// The region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile, then EC2 instance metadata.
    /// - Throws: `AWSConfigError` naming the variables to set when none is found.
    public func resolveRegion(http: HTTPClient = .shared) async throws -> String {
        if let region { return region }
        if !imdsDisabled, let r = try? await IMDSClient(environment: environment, http: http).region(), !r.isEmpty {
            return r
        }
        throw AWSConfigError(
            "No AWS region is configured; set AWS_REGION (or AWS_DEFAULT_REGION) or `region` in the profile \"\(profileName)\".")
    }
}
