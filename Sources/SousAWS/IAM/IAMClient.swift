import Foundation

/// AWS IAM (query protocol): what preflight asks about the roles a deployment needs.
public struct IAMClient: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    func call(_ action: String, _ params: [(String, String)]) async throws -> XMLNode {
        try await AWSQueryProtocol.call(client: client, service: .iam, version: "2010-05-08", action: action, params: params)
    }

    /// A role as `GetRole` describes it.
    public struct Role: Sendable, Equatable {
        public var name: String
        public var arn: String
        /// The trust policy (who may assume the role), decoded from the response's URL-encoded JSON.
        public var trustPolicy: String

        /// Whether the trust policy lets `service` (`sagemaker.amazonaws.com`) assume the role: an `Allow`
        /// statement whose action covers `sts:AssumeRole` and whose principal names the service (or `*`).
        public func trusts(service: String) -> Bool {
            guard let doc = try? JSONSerialization.jsonObject(with: Data(trustPolicy.utf8)) as? [String: Any] else { return false }
            let statements: [[String: Any]] =
                (doc["Statement"] as? [[String: Any]]) ?? ((doc["Statement"] as? [String: Any]).map { [$0] } ?? [])
            func strings(_ v: Any?) -> [String] { (v as? [String]) ?? ((v as? String).map { [$0] } ?? []) }
            return statements.contains { s in
                guard (s["Effect"] as? String) == "Allow" else { return false }
                let actions = strings(s["Action"])
                guard actions.contains(where: { ["sts:AssumeRole", "sts:*", "*"].contains($0) }) else { return false }
                if (s["Principal"] as? String) == "*" { return true }
                let principal = s["Principal"] as? [String: Any] ?? [:]
                return strings(principal["Service"]).contains(service) || strings(principal["AWS"]).contains("*")
            }
        }
    }

    /// The role's name in an ARN (`arn:aws:iam::123456789012:role/path/NAME` → `NAME`), or nil when it is not a role ARN.
    public static func roleName(fromArn arn: String) -> String? {
        guard arn.hasPrefix("arn:"), let r = arn.range(of: ":role/") else { return nil }
        let rest = arn[r.upperBound...]
        guard let name = rest.split(separator: "/").last, !name.isEmpty else { return nil }
        return String(name)
    }

    /// `GetRole`.
    /// - Throws: `AWSError` (`NoSuchEntity` when the role does not exist), or `MalformedResponse` without a Role.
    public func getRole(_ name: String) async throws -> Role {
        let root = try await call("GetRole", [("RoleName", name)])
        guard let role = root.find("Role"), let arn = role.value("Arn") else {
            throw AWSError(service: "IAM", operation: "GetRole", status: 200, code: "MalformedResponse", message: "No Role/Arn in the response")
        }
        let raw = role.value("AssumeRolePolicyDocument") ?? ""
        return Role(name: role.value("RoleName") ?? name, arn: arn, trustPolicy: raw.removingPercentEncoding ?? raw)
    }
}
