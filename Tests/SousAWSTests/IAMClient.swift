import Foundation
@testable import SousAWS

/// The IAM calls the tests make against moto to set up users, keys and roles (sous itself only reads roles,
/// with `IAMClient.getRole`), on SousAWS's query protocol.
extension IAMClient {
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
