public import Foundation
import SousHTTP

/// The SageMaker control plane (JSON 1.1, `X-Amz-Target: SageMaker.<Operation>`).
public struct SageMakerClient: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    /// Calls one operation with a JSON object body; returns the decoded JSON object.
    public func call(_ operation: String, _ input: [String: any Sendable]) async throws -> [String: any Sendable] {
        var r = AWSRequest(service: .sagemaker, operation: operation, method: "POST", path: "/")
        r.headers.set("Content-Type", "application/x-amz-json-1.1")
        r.headers.set("X-Amz-Target", "SageMaker.\(operation)")
        r.body = .bytes(try JSONSerialization.data(withJSONObject: input, options: [.sortedKeys]))
        let resp = try await client.send(r)
        if resp.body.isEmpty { return [:] }
        guard let obj = try? JSONSerialization.jsonObject(with: resp.body) as? [String: Any] else {
            throw AWSError(service: "SageMaker", operation: operation, status: resp.status, code: "MalformedResponse", message: "The response is not a JSON object")
        }
        return Self.sendable(obj)
    }

    static func sendable(_ obj: [String: Any]) -> [String: any Sendable] {
        var out: [String: any Sendable] = [:]
        for (k, v) in obj { out[k] = sendableValue(v) }
        return out
    }

    static func sendableValue(_ v: Any) -> any Sendable {
        switch v {
        case let d as [String: Any]: return sendable(d)
        case let a as [Any]: return a.map(sendableValue)
        case let s as String: return s
        case let n as NSNumber: return n.doubleValue
        default: return String(describing: v)
        }
    }

    static func tagList(_ tags: [String: String]) -> [[String: any Sendable]] {
        tags.keys.sorted().map { ["Key": $0, "Value": tags[$0]!] }
    }

    /// The ARN under `key` of an operation's answer, which SageMaker always sends.
    /// - Throws: `AWSError` `MalformedResponse` naming the operation when it is absent or empty.
    static func arn(_ key: String, in answer: [String: any Sendable], operation: String) throws -> String {
        guard let arn = answer[key] as? String, !arn.isEmpty else {
            throw AWSError(
                service: "SageMaker", operation: operation, status: 200, code: "MalformedResponse",
                message: "The \(operation) response holds no \(key)")
        }
        return arn
    }

    static func date(_ v: (any Sendable)?) -> Date? {
        if let d = v as? Double { return Date(timeIntervalSince1970: d) }
        if let s = v as? String { return AWSDate.parseISO8601(s) }
        return nil
    }

    // MARK: models

    /// `CreateModel`; returns the ModelArn.
    @discardableResult
    public func createModel(_ m: SageMakerModelSpec) async throws -> String {
        var container: [String: any Sendable] = ["Image": m.image]
        if !m.environment.isEmpty { container["Environment"] = m.environment }
        if let url = m.modelDataUrl { container["ModelDataUrl"] = url }
        if let prefix = m.modelDataS3Prefix {
            container["ModelDataSource"] = [
                "S3DataSource": ["S3Uri": prefix.hasSuffix("/") ? prefix : prefix + "/", "S3DataType": "S3Prefix", "CompressionType": "None"] as [String: any Sendable]
            ] as [String: any Sendable]
        }
        var input: [String: any Sendable] = ["ModelName": m.name, "ExecutionRoleArn": m.executionRoleArn, "PrimaryContainer": container]
        if !m.tags.isEmpty { input["Tags"] = Self.tagList(m.tags) }
        if let iso = m.enableNetworkIsolation { input["EnableNetworkIsolation"] = iso }
        return try Self.arn("ModelArn", in: try await call("CreateModel", input), operation: "CreateModel")
    }

    /// `DescribeModel`.
    public func describeModel(_ name: String) async throws -> SageMakerModel {
        let o = try await call("DescribeModel", ["ModelName": name])
        let c = o["PrimaryContainer"] as? [String: any Sendable] ?? [:]
        var env: [String: String] = [:]
        for (k, v) in c["Environment"] as? [String: any Sendable] ?? [:] { env[k] = v as? String }
        return SageMakerModel(
            name: o["ModelName"] as? String ?? name, arn: try Self.arn("ModelArn", in: o, operation: "DescribeModel"),
            executionRoleArn: o["ExecutionRoleArn"] as? String ?? "", image: c["Image"] as? String,
            modelDataUrl: c["ModelDataUrl"] as? String, environment: env)
    }

    /// `DeleteModel`.
    public func deleteModel(_ name: String) async throws { _ = try await call("DeleteModel", ["ModelName": name]) }

    // MARK: endpoint configs

    /// `CreateEndpointConfig`; returns the EndpointConfigArn.
    @discardableResult
    public func createEndpointConfig(name: String, variants: [SageMakerProductionVariant], tags: [String: String] = [:])
        async throws -> String
    {
        let vs: [[String: any Sendable]] = variants.map { v in
            var d: [String: any Sendable] = [
                "VariantName": v.variantName, "ModelName": v.modelName, "InstanceType": v.instanceType,
                "InitialInstanceCount": v.initialInstanceCount,
            ]
            if let w = v.initialVariantWeight { d["InitialVariantWeight"] = w }
            if let s = v.volumeSizeInGB { d["VolumeSizeInGB"] = s }
            if let t = v.modelDataDownloadTimeoutInSeconds { d["ModelDataDownloadTimeoutInSeconds"] = t }
            if let t = v.containerStartupHealthCheckTimeoutInSeconds { d["ContainerStartupHealthCheckTimeoutInSeconds"] = t }
            if let r = v.routingStrategy { d["RoutingConfig"] = ["RoutingStrategy": r] as [String: any Sendable] }
            return d
        }
        var input: [String: any Sendable] = ["EndpointConfigName": name, "ProductionVariants": vs]
        if !tags.isEmpty { input["Tags"] = Self.tagList(tags) }
        return try Self.arn("EndpointConfigArn", in: try await call("CreateEndpointConfig", input), operation: "CreateEndpointConfig")
    }

    /// `DescribeEndpointConfig`.
    public func describeEndpointConfig(_ name: String) async throws -> SageMakerEndpointConfig {
        let o = try await call("DescribeEndpointConfig", ["EndpointConfigName": name])
        let vs = (o["ProductionVariants"] as? [any Sendable] ?? []).compactMap { $0 as? [String: any Sendable] }.map { v in
            SageMakerProductionVariant(
                variantName: v["VariantName"] as? String ?? "", modelName: v["ModelName"] as? String ?? "",
                instanceType: v["InstanceType"] as? String ?? "",
                initialInstanceCount: Int(v["InitialInstanceCount"] as? Double ?? 0),
                initialVariantWeight: v["InitialVariantWeight"] as? Double,
                volumeSizeInGB: (v["VolumeSizeInGB"] as? Double).map { Int($0) },
                modelDataDownloadTimeoutInSeconds: (v["ModelDataDownloadTimeoutInSeconds"] as? Double).map { Int($0) },
                containerStartupHealthCheckTimeoutInSeconds: (v["ContainerStartupHealthCheckTimeoutInSeconds"] as? Double).map { Int($0) },
                routingStrategy: (v["RoutingConfig"] as? [String: any Sendable])?["RoutingStrategy"] as? String)
        }
        return SageMakerEndpointConfig(
            name: o["EndpointConfigName"] as? String ?? name, arn: try Self.arn("EndpointConfigArn", in: o, operation: "DescribeEndpointConfig"), variants: vs)
    }

    /// `DeleteEndpointConfig`.
    public func deleteEndpointConfig(_ name: String) async throws {
        _ = try await call("DeleteEndpointConfig", ["EndpointConfigName": name])
    }

    // MARK: endpoints

    /// `CreateEndpoint`; returns the EndpointArn.
    @discardableResult
    public func createEndpoint(name: String, configName: String, tags: [String: String] = [:]) async throws -> String {
        var input: [String: any Sendable] = ["EndpointName": name, "EndpointConfigName": configName]
        if !tags.isEmpty { input["Tags"] = Self.tagList(tags) }
        return try Self.arn("EndpointArn", in: try await call("CreateEndpoint", input), operation: "CreateEndpoint")
    }

    /// `DescribeEndpoint`.
    public func describeEndpoint(_ name: String) async throws -> SageMakerEndpoint {
        let o = try await call("DescribeEndpoint", ["EndpointName": name])
        return SageMakerEndpoint(
            name: o["EndpointName"] as? String ?? name, arn: try Self.arn("EndpointArn", in: o, operation: "DescribeEndpoint"),
            configName: o["EndpointConfigName"] as? String ?? "", status: o["EndpointStatus"] as? String ?? "",
            failureReason: o["FailureReason"] as? String, creationTime: Self.date(o["CreationTime"]),
            lastModifiedTime: Self.date(o["LastModifiedTime"]))
    }

    /// `DeleteEndpoint`.
    public func deleteEndpoint(_ name: String) async throws { _ = try await call("DeleteEndpoint", ["EndpointName": name]) }

    /// An endpoint as listed.
    public struct EndpointSummary: Sendable, Equatable {
        public var name: String
        public var arn: String
        public var status: String
        public var creationTime: Date?
    }

    /// `ListEndpoints` (all pages), optionally filtered by `NameContains`.
    public func listEndpoints(nameContains: String? = nil) async throws -> [EndpointSummary] {
        var out: [EndpointSummary] = []
        var token: String?
        repeat {
            var input: [String: any Sendable] = ["MaxResults": 100]
            if let nameContains { input["NameContains"] = nameContains }
            if let token { input["NextToken"] = token }
            let o = try await call("ListEndpoints", input)
            for e in (o["Endpoints"] as? [any Sendable] ?? []).compactMap({ $0 as? [String: any Sendable] }) {
                out.append(EndpointSummary(
                    name: e["EndpointName"] as? String ?? "", arn: e["EndpointArn"] as? String ?? "",
                    status: e["EndpointStatus"] as? String ?? "", creationTime: Self.date(e["CreationTime"])))
            }
            token = (o["NextToken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return out
    }

    // MARK: tags

    /// `AddTags` to a resource ARN.
    public func addTags(resourceArn: String, tags: [String: String]) async throws {
        _ = try await call("AddTags", ["ResourceArn": resourceArn, "Tags": Self.tagList(tags)])
    }

    /// `ListTags` of a resource ARN (all pages).
    public func listTags(resourceArn: String) async throws -> [String: String] {
        var out: [String: String] = [:]
        var token: String?
        repeat {
            var input: [String: any Sendable] = ["ResourceArn": resourceArn]
            if let token { input["NextToken"] = token }
            let o = try await call("ListTags", input)
            for t in (o["Tags"] as? [any Sendable] ?? []).compactMap({ $0 as? [String: any Sendable] }) {
                if let k = t["Key"] as? String { out[k] = t["Value"] as? String ?? "" }
            }
            token = (o["NextToken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return out
    }
}
