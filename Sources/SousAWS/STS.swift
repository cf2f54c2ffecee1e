import Foundation
import SousHTTP

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
    public func getCallerIdentity() async throws -> CallerIdentity {
        let root = try await call("GetCallerIdentity", [])
        let r = root.find("GetCallerIdentityResult")
        return CallerIdentity(
            account: r?.value("Account") ?? "", arn: r?.value("Arn") ?? "", userId: r?.value("UserId") ?? "")
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

/// AWS IAM (query protocol): the few calls sous needs.
public struct IAMClient: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    func call(_ action: String, _ params: [(String, String)]) async throws -> XMLNode {
        try await AWSQueryProtocol.call(client: client, service: .iam, version: "2010-05-08", action: action, params: params)
    }

    /// The ARN of a role (`GetRole`), as the TGI notebook's fallback for `sagemaker_execution_role`.
    public func roleArn(roleName: String) async throws -> String {
        let root = try await call("GetRole", [("RoleName", roleName)])
        guard let arn = root.find("Role")?.value("Arn") else {
            throw AWSError(service: "IAM", operation: "GetRole", status: 200, code: "MalformedResponse", message: "No Role/Arn in the response")
        }
        return arn
    }

    /// `CreateRole` with a trust policy (JSON text); returns the role ARN.
    @discardableResult
    public func createRole(_ roleName: String, assumeRolePolicyDocument: String) async throws -> String {
        let root = try await call("CreateRole", [("RoleName", roleName), ("AssumeRolePolicyDocument", assumeRolePolicyDocument)])
        return root.find("Role")?.value("Arn") ?? ""
    }

    /// `CreateUser` (used by tests against moto).
    public func createUser(_ name: String) async throws {
        _ = try await call("CreateUser", [("UserName", name)])
    }

    /// `CreateAccessKey`: the new key's credentials.
    public func createAccessKey(userName: String) async throws -> AWSCredentials {
        let root = try await call("CreateAccessKey", [("UserName", userName)])
        guard let k = root.find("AccessKey"), let id = k.value("AccessKeyId"), let s = k.value("SecretAccessKey") else {
            throw AWSError(service: "IAM", operation: "CreateAccessKey", status: 200, code: "MalformedResponse", message: "No AccessKey in the response")
        }
        return AWSCredentials(accessKeyId: id, secretAccessKey: s)
    }

    /// `PutUserPolicy` with a policy document (JSON text).
    public func putUserPolicy(userName: String, policyName: String, document: String) async throws {
        _ = try await call("PutUserPolicy", [("UserName", userName), ("PolicyName", policyName), ("PolicyDocument", document)])
    }
}

/// The AWS query protocol: form-encoded POST, XML response.
enum AWSQueryProtocol {
    static func formEncode(_ params: [(String, String)]) -> String {
        params.map { AWSURIEncoding.encode($0.0, keepSlash: false) + "=" + AWSURIEncoding.encode($0.1, keepSlash: false) }
            .joined(separator: "&")
    }

    static func call(client: AWSClient, service: AWSService, version: String, action: String, params: [(String, String)])
        async throws -> XMLNode
    {
        let body = formEncode([("Action", action), ("Version", version)] + params)
        var req = AWSRequest(service: service, operation: action, method: "POST", path: "/")
        req.headers.set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        req.body = .bytes(Data(body.utf8))
        let resp = try await client.send(req)
        guard let root = XMLNode.parse(resp.body) else {
            throw AWSError(
                service: AWSClient.serviceDisplayName(service), operation: action, status: resp.status,
                code: "MalformedResponse", message: "The response is not XML")
        }
        return root
    }
}
