public import Foundation

extension SageMakerClient {
    /// A model or endpoint config as listed.
    public struct ResourceSummary: Sendable, Equatable {
        public var name: String
        public var arn: String
        public var creationTime: Date?
    }

    /// `ListEndpointConfigs` (all pages).
    public func listEndpointConfigs() async throws -> [ResourceSummary] {
        try await listAll("ListEndpointConfigs", items: "EndpointConfigs", name: "EndpointConfigName", arn: "EndpointConfigArn")
    }

    /// `ListModels` (all pages).
    public func listModels() async throws -> [ResourceSummary] {
        try await listAll("ListModels", items: "Models", name: "ModelName", arn: "ModelArn")
    }

    func listAll(_ operation: String, items: String, name: String, arn: String) async throws -> [ResourceSummary] {
        var out: [ResourceSummary] = []
        var token: String?
        repeat {
            var input: [String: any Sendable] = ["MaxResults": 100]
            if let token { input["NextToken"] = token }
            let o = try await call(operation, input)
            for e in (o[items] as? [any Sendable] ?? []).compactMap({ $0 as? [String: any Sendable] }) {
                out.append(ResourceSummary(name: e[name] as? String ?? "", arn: e[arn] as? String ?? "", creationTime: Self.date(e["CreationTime"])))
            }
            token = (o["NextToken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return out
    }
}
