import Foundation

extension SageMakerClient {
    /// What `deleteDeployment` removed.
    public struct DeletedDeployment: Sendable, Equatable {
        public var endpoint: String?
        public var endpointConfig: String?
        public var models: [String]

        public init(endpoint: String?, endpointConfig: String?, models: [String]) {
            self.endpoint = endpoint
            self.endpointConfig = endpointConfig
            self.models = models
        }
    }

    /// Deletes an endpoint, then its endpoint config, then the config's models (the notebooks' clean-up order).
    /// Missing pieces are skipped, so a half-finished deploy can be cleaned up too.
    @discardableResult
    public func deleteDeployment(endpointName: String, endpointConfigName: String? = nil, modelNames: [String] = [])
        async throws -> DeletedDeployment
    {
        var result = DeletedDeployment(endpoint: nil, endpointConfig: nil, models: [])
        var configName = endpointConfigName
        if let e = try await AWSError.nilIfNotFound({ try await describeEndpoint(endpointName) }) {
            configName = configName ?? e.configName
            try await deleteEndpoint(endpointName)
            result.endpoint = endpointName
        }
        var models = modelNames
        if let configName, let c = try await AWSError.nilIfNotFound({ try await describeEndpointConfig(configName) }) {
            for v in c.variants where !models.contains(v.modelName) { models.append(v.modelName) }
            try await deleteEndpointConfig(configName)
            result.endpointConfig = configName
        }
        for m in models {
            if try await AWSError.nilIfNotFound({ try await deleteModel(m) }) != nil { result.models.append(m) }
        }
        return result
    }
}
