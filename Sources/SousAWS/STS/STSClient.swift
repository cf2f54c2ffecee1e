import Foundation

/// AWS STS (query protocol, XML responses).
public struct STSClient: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    /// The identity behind the credentials.
    public struct CallerIdentity: Sendable, Equatable {
        public var account: String
        public var arn: String
        public var userId: String
    }

    func call(_ action: String, _ params: [(String, String)]) async throws -> XMLNode {
        try await AWSQueryProtocol.call(client: client, service: .sts, version: "2011-06-15", action: action, params: params)
    }

    /// `GetCallerIdentity`.
    /// - Throws: `AWSError` `MalformedResponse` when the answer lacks the account, the ARN or the user id.
    public func getCallerIdentity() async throws -> CallerIdentity {
        let root = try await call("GetCallerIdentity", [])
        let r = root.find("GetCallerIdentityResult")
        guard let account = r?.value("Account"), !account.isEmpty, let arn = r?.value("Arn"), !arn.isEmpty,
            let userId = r?.value("UserId"), !userId.isEmpty
        else {
            throw AWSError(
                service: "STS", operation: "GetCallerIdentity", status: 200, code: "MalformedResponse",
                message: "The GetCallerIdentity response holds no Account, Arn or UserId")
        }
        return CallerIdentity(account: account, arn: arn, userId: userId)
    }

    /// `AssumeRole`: temporary credentials for `roleArn`.
    public func assumeRole(
        roleArn: String, sessionName: String, durationSeconds: Int? = nil, externalId: String? = nil
    ) async throws -> AWSCredentials {
        var params: [(String, String)] = [("RoleArn", roleArn), ("RoleSessionName", sessionName)]
        if let d = durationSeconds { params.append(("DurationSeconds", String(d))) }
        if let e = externalId { params.append(("ExternalId", e)) }
        let root = try await call("AssumeRole", params)
        guard let c = root.find("Credentials"), let akid = c.value("AccessKeyId"), let secret = c.value("SecretAccessKey")
        else {
            throw AWSError(
                service: "STS", operation: "AssumeRole", status: 200, code: "MalformedResponse",
                message: "The AssumeRole response holds no credentials")
        }
        return AWSCredentials(
            accessKeyId: akid, secretAccessKey: secret, sessionToken: c.value("SessionToken"),
            expiration: c.value("Expiration").flatMap(AWSDate.parseISO8601))
    }
}
