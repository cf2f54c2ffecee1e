import Foundation
@testable import SousAWS

/// AWS IAM (query protocol): the calls the tests make against moto to set up users, keys and roles. sous itself
/// never calls IAM, so this lives with the tests, on SousAWS's query protocol.
struct IAMClient: Sendable {
    let client: AWSClient
    init(_ client: AWSClient) { self.client = client }

    func call(_ action: String, _ params: [(String, String)]) async throws -> XMLNode {
        try await AWSQueryProtocol.call(client: client, service: .iam, version: "2010-05-08", action: action, params: params)
    }

    /// The ARN of a role (`GetRole`).
    func roleArn(roleName: String) async throws -> String {
        let root = try await call("GetRole", [("RoleName", roleName)])
        guard let arn = root.find("Role")?.value("Arn") else {
            throw AWSError(service: "IAM", operation: "GetRole", status: 200, code: "MalformedResponse", message: "No Role/Arn in the response")
        }
        return arn
    }

    /// `CreateRole` with a trust policy (JSON text); returns the role ARN.
    @discardableResult
    func createRole(_ roleName: String, assumeRolePolicyDocument: String) async throws -> String {
        let root = try await call("CreateRole", [("RoleName", roleName), ("AssumeRolePolicyDocument", assumeRolePolicyDocument)])
        return root.find("Role")?.value("Arn") ?? ""
    }

    /// `CreateUser`.
    func createUser(_ name: String) async throws {
        _ = try await call("CreateUser", [("UserName", name)])
    }

    /// `CreateAccessKey`: the new key's credentials.
    func createAccessKey(userName: String) async throws -> AWSCredentials {
        let root = try await call("CreateAccessKey", [("UserName", userName)])
        guard let k = root.find("AccessKey"), let id = k.value("AccessKeyId"), let s = k.value("SecretAccessKey") else {
            throw AWSError(service: "IAM", operation: "CreateAccessKey", status: 200, code: "MalformedResponse", message: "No AccessKey in the response")
        }
        return AWSCredentials(accessKeyId: id, secretAccessKey: s)
    }

    /// `PutUserPolicy` with a policy document (JSON text).
    func putUserPolicy(userName: String, policyName: String, document: String) async throws {
        _ = try await call("PutUserPolicy", [("UserName", userName), ("PolicyName", policyName), ("PolicyDocument", document)])
    }
}
