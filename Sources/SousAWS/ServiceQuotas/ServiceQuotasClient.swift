import Foundation
import SousHTTP

/// AWS Service Quotas (JSON 1.1, `X-Amz-Target: ServiceQuotasV20190624.<Operation>`): the account's limits,
/// such as SageMaker's `ml.g5.12xlarge for endpoint usage`.
public struct ServiceQuotasClient: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    /// One quota.
    public struct Quota: Sendable, Equatable {
        public var name: String
        public var code: String
        public var value: Double
    }

    func call(_ operation: String, _ input: [String: any Sendable]) async throws -> [String: Any] {
        var r = AWSRequest(service: .serviceQuotas, operation: operation, method: "POST", path: "/")
        r.headers.set("Content-Type", "application/x-amz-json-1.1")
        r.headers.set("X-Amz-Target", "ServiceQuotasV20190624.\(operation)")
        r.body = .bytes(try JSONSerialization.data(withJSONObject: input, options: [.sortedKeys]))
        let resp = try await client.send(r)
        guard let obj = try? JSONSerialization.jsonObject(with: resp.body) as? [String: Any] else {
            throw AWSError(
                service: "Service Quotas", operation: operation, status: resp.status, code: "MalformedResponse",
                message: "The response is not a JSON object")
        }
        return obj
    }

    /// Every quota of `serviceCode` an operation lists (all pages).
    func list(_ operation: String, serviceCode: String) async throws -> [Quota] {
        var out: [Quota] = []
        var token: String?
        repeat {
            var input: [String: any Sendable] = ["ServiceCode": serviceCode, "MaxResults": 100]
            if let token { input["NextToken"] = token }
            let o = try await call(operation, input)
            for q in o["Quotas"] as? [[String: Any]] ?? [] {
                guard let name = q["QuotaName"] as? String, let value = (q["Value"] as? NSNumber)?.doubleValue else { continue }
                out.append(Quota(name: name, code: q["QuotaCode"] as? String ?? "", value: value))
            }
            token = (o["NextToken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return out
    }

    /// The account's value of the quota named `name` (`ListServiceQuotas`, the applied values), else its default
    /// (`ListAWSDefaultServiceQuotas`); nil when the service has no quota of that name in this region.
    public func quota(serviceCode: String, named name: String) async throws -> Quota? {
        if let q = try await list("ListServiceQuotas", serviceCode: serviceCode).first(where: { $0.name == name }) { return q }
        return try await list("ListAWSDefaultServiceQuotas", serviceCode: serviceCode).first { $0.name == name }
    }
}
