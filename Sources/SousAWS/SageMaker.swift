public import Foundation
import SousHTTP

/// A SageMaker model to create (`CreateModel` with a single primary container).
public struct SageMakerModelSpec: Sendable, Equatable {
    public var name: String
    public var executionRoleArn: String
    public var image: String
    /// `ModelDataUrl`: an S3 object (e.g. the LMI `model.tar.gz` code artifact).
    public var modelDataUrl: String?
    /// Uncompressed weights under an S3 prefix (`ModelDataSource.S3DataSource`, `S3Prefix`, `CompressionType None`).
    public var modelDataS3Prefix: String?
    public var environment: [String: String]
    public var tags: [String: String]
    public var enableNetworkIsolation: Bool?

    public init(
        name: String, executionRoleArn: String, image: String, modelDataUrl: String? = nil,
        modelDataS3Prefix: String? = nil, environment: [String: String] = [:], tags: [String: String] = [:],
        enableNetworkIsolation: Bool? = nil
    ) {
        self.name = name
        self.executionRoleArn = executionRoleArn
        self.image = image
        self.modelDataUrl = modelDataUrl
        self.modelDataS3Prefix = modelDataS3Prefix
        self.environment = environment
        self.tags = tags
        self.enableNetworkIsolation = enableNetworkIsolation
    }
}

/// One production variant of an endpoint config.
public struct SageMakerProductionVariant: Sendable, Equatable {
    public var variantName: String
    public var modelName: String
    public var instanceType: String
    public var initialInstanceCount: Int
    public var initialVariantWeight: Double?
    public var volumeSizeInGB: Int?
    /// 60–3600.
    public var modelDataDownloadTimeoutInSeconds: Int?
    /// 60–3600.
    public var containerStartupHealthCheckTimeoutInSeconds: Int?
    /// `LEAST_OUTSTANDING_REQUESTS` or `RANDOM`.
    public var routingStrategy: String?

    public init(
        variantName: String = "AllTraffic", modelName: String, instanceType: String, initialInstanceCount: Int = 1,
        initialVariantWeight: Double? = 1, volumeSizeInGB: Int? = nil, modelDataDownloadTimeoutInSeconds: Int? = nil,
        containerStartupHealthCheckTimeoutInSeconds: Int? = nil, routingStrategy: String? = nil
    ) {
        self.variantName = variantName
        self.modelName = modelName
        self.instanceType = instanceType
        self.initialInstanceCount = initialInstanceCount
        self.initialVariantWeight = initialVariantWeight
        self.volumeSizeInGB = volumeSizeInGB
        self.modelDataDownloadTimeoutInSeconds = modelDataDownloadTimeoutInSeconds
        self.containerStartupHealthCheckTimeoutInSeconds = containerStartupHealthCheckTimeoutInSeconds
        self.routingStrategy = routingStrategy
    }
}

/// `DescribeEndpoint` output (the fields sous uses).
public struct SageMakerEndpoint: Sendable, Equatable {
    public var name: String
    public var arn: String
    public var configName: String
    /// `OutOfService | Creating | Updating | SystemUpdating | RollingBack | InService | Deleting | Failed | UpdateRollbackFailed`.
    public var status: String
    public var failureReason: String?
    public var creationTime: Date?
    public var lastModifiedTime: Date?
}

/// `DescribeModel` output (the fields sous uses).
public struct SageMakerModel: Sendable, Equatable {
    public var name: String
    public var arn: String
    public var executionRoleArn: String
    public var image: String?
    public var modelDataUrl: String?
    public var environment: [String: String]
}

/// `DescribeEndpointConfig` output (the fields sous uses).
public struct SageMakerEndpointConfig: Sendable, Equatable {
    public var name: String
    public var arn: String
    public var variants: [SageMakerProductionVariant]
}

/// A wait on an endpoint ended badly.
public struct SageMakerWaitError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The endpoint reached `Failed`; carries SageMaker's FailureReason.
        case failed(reason: String)
        /// The budget ran out; carries the last status seen.
        case timedOut(lastStatus: String, budget: Duration)
    }
    public var endpointName: String
    public var kind: Kind

    public var description: String {
        switch kind {
        case .failed(let reason):
            let r = reason.isEmpty ? "no reason given" : reason
            var s = "SageMaker endpoint \(endpointName) failed to deploy: \(r)"
            if !s.hasSuffix(".") { s += "." }
            if reason.lowercased().contains("health check") {
                s += " Hint: the container did not become healthy in time; raise container_startup_health_check_timeout (max 3600 s) or use a larger instance, and read the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/\(endpointName))."
            } else {
                s += " Hint: read the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/\(endpointName)) and delete the endpoint before retrying."
            }
            return s
        case .timedOut(let last, let budget):
            return "SageMaker endpoint \(endpointName) was still \(last) after \(Int(budget.components.seconds)) s of waiting; it may still come up: check it with DescribeEndpoint or raise the wait budget."
        }
    }
}

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
        return try await call("CreateModel", input)["ModelArn"] as? String ?? ""
    }

    /// `DescribeModel`.
    public func describeModel(_ name: String) async throws -> SageMakerModel {
        let o = try await call("DescribeModel", ["ModelName": name])
        let c = o["PrimaryContainer"] as? [String: any Sendable] ?? [:]
        var env: [String: String] = [:]
        for (k, v) in c["Environment"] as? [String: any Sendable] ?? [:] { env[k] = v as? String }
        return SageMakerModel(
            name: o["ModelName"] as? String ?? name, arn: o["ModelArn"] as? String ?? "",
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
        return try await call("CreateEndpointConfig", input)["EndpointConfigArn"] as? String ?? ""
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
            name: o["EndpointConfigName"] as? String ?? name, arn: o["EndpointConfigArn"] as? String ?? "", variants: vs)
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
        return try await call("CreateEndpoint", input)["EndpointArn"] as? String ?? ""
    }

    /// `DescribeEndpoint`.
    public func describeEndpoint(_ name: String) async throws -> SageMakerEndpoint {
        let o = try await call("DescribeEndpoint", ["EndpointName": name])
        return SageMakerEndpoint(
            name: o["EndpointName"] as? String ?? name, arn: o["EndpointArn"] as? String ?? "",
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

    // MARK: waiting and clean-up

    /// Polls `DescribeEndpoint` every `interval` until `InService` (returned), `Failed` (throws
    /// `SageMakerWaitError.failed` with the FailureReason) or `budget` runs out (throws `.timedOut`).
    /// `onTick` sees each description and the time waited so far.
    @discardableResult
    public func waitForEndpoint(
        _ name: String, interval: Duration = .seconds(30), budget: Duration = .seconds(3600),
        onTick: @Sendable (SageMakerEndpoint, Duration) -> Void = { _, _ in },
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) async throws -> SageMakerEndpoint {
        let clock = ContinuousClock()
        let start = clock.now
        var waited: Duration = .zero
        // The first checks come sooner (1 s, 2 s, 4 s, …) up to `interval`: a small model on the local
        // cloud is ready in seconds, and a few extra DescribeEndpoint calls cost nothing on AWS.
        var step = min(interval, .seconds(1))
        while true {
            let e = try await describeEndpoint(name)
            onTick(e, waited)
            switch e.status {
            case "InService": return e
            case "Failed", "UpdateRollbackFailed":
                throw SageMakerWaitError(endpointName: name, kind: .failed(reason: e.failureReason ?? ""))
            default: break
            }
            if waited + step > budget {
                throw SageMakerWaitError(endpointName: name, kind: .timedOut(lastStatus: e.status, budget: budget))
            }
            try await sleep(step)  // poll interval
            waited = max(waited + step, clock.now - start)
            step = min(interval, step * 2)
        }
    }

    /// Polls until `DescribeEndpoint` answers ValidationException (the endpoint is gone).
    public func waitForEndpointDeleted(
        _ name: String, interval: Duration = .seconds(30), budget: Duration = .seconds(1800),
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) async throws {
        var waited: Duration = .zero
        while true {
            let status: String
            do {
                status = try await describeEndpoint(name).status
            } catch let e as AWSError where e.code == "ValidationException" {
                return
            }
            if waited + interval > budget {
                throw SageMakerWaitError(endpointName: name, kind: .timedOut(lastStatus: status, budget: budget))
            }
            try await sleep(interval)  // poll interval
            waited += interval
        }
    }

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
        if let e = try await ignoringMissing({ try await describeEndpoint(endpointName) }) {
            configName = configName ?? e.configName
            try await deleteEndpoint(endpointName)
            result.endpoint = endpointName
        }
        var models = modelNames
        if let configName, let c = try await ignoringMissing({ try await describeEndpointConfig(configName) }) {
            for v in c.variants where !models.contains(v.modelName) { models.append(v.modelName) }
            try await deleteEndpointConfig(configName)
            result.endpointConfig = configName
        }
        for m in models {
            if try await ignoringMissing({ try await deleteModel(m) }) != nil { result.models.append(m) }
        }
        return result
    }

    private func ignoringMissing<T: Sendable>(_ body: () async throws -> T) async throws -> T? {
        do {
            return try await body()
        } catch let e as AWSError where e.code == "ValidationException" && e.message.contains("Could not find") {
            return nil
        }
    }
}

/// SageMaker resource names.
public enum SageMakerNames {
    /// `sagemaker.utils.name_from_base`: `base` cut to `maxLength - 24` characters, then `-` and a UTC
    /// `YYYY-MM-DD-HH-MM-SS-mmm` timestamp (63 characters at most by default).
    public static func nameFromBase(_ base: String, date: Date = Date(), maxLength: Int = 63) -> String {
        let stamp = timestamp(date)
        let trimmed = String(base.prefix(max(0, maxLength - stamp.count - 1)))
        return "\(trimmed)-\(stamp)"
    }

    /// `sagemaker_timestamp()`: `YYYY-MM-DD-HH-MM-SS-mmm` in UTC.
    public static func timestamp(_ date: Date) -> String {
        let secs = floor(date.timeIntervalSince1970)
        var t = time_t(secs)
        var tm = tm()
        gmtime_r(&t, &tm)
        let ms = Int((date.timeIntervalSince1970 - secs) * 1000)
        func p(_ v: Int32, _ w: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(p(tm.tm_year + 1900, 4))-\(p(tm.tm_mon + 1))-\(p(tm.tm_mday))-\(p(tm.tm_hour))-\(p(tm.tm_min))-\(p(tm.tm_sec))-\(p(Int32(min(999, ms)), 3))"
    }

    /// The image's base name for model names (`…/huggingface-pytorch-tgi-inference:tag` → `huggingface-pytorch-tgi-inference`),
    /// as `HuggingFaceModel.deploy` names its model.
    public static func imageBaseName(_ image: String) -> String {
        let last = image.split(separator: "/").last.map(String.init) ?? image
        return String(last.split(separator: ":").first ?? Substring(last))
    }
}
