import Foundation
import HTTPTypes
import Hummingbird
import SousBasics
import SousHub

/// The SageMaker control plane (models, endpoint configs, endpoints, tags), persisted as JSON files under
/// `data/sagemaker/`, and the endpoints' hosts (loaded models) that SageMaker Runtime calls reach.
actor SageMakerService {
    let configuration: LocalCloudConfiguration
    let s3: S3Store
    let dir: URL
    private let sealer: EnvironmentSealer
    private var models: [String: ModelRecord] = [:]
    private var configs: [String: EndpointConfigRecord] = [:]
    private var endpoints: [String: EndpointRecord] = [:]
    private var hosts: [String: EndpointHost] = [:]
    private var loads: [String: Task<Void, Never>] = [:]

    init(configuration: LocalCloudConfiguration, s3: S3Store) throws {
        self.configuration = configuration
        self.s3 = s3
        dir = configuration.dataDirectory.appendingPathComponent("sagemaker", isDirectory: true)
        let fm = FileManager.default
        for sub in ["models", "endpoint-configs", "endpoints", "containers"] {
            try fm.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        let sealer = try EnvironmentSealer(keyFile: configuration.environmentKeyFile)
        self.sealer = sealer
        models = Self.load(dir.appendingPathComponent("models"), sealer, configuration.log)
        configs = Self.load(dir.appendingPathComponent("endpoint-configs"), sealer, configuration.log)
        endpoints = Self.load(dir.appendingPathComponent("endpoints"), sealer, configuration.log)
    }

    /// Reads one kind's records. A record written before environments were sealed is rewritten sealed.
    private static func load<T: Codable>(
        _ d: URL, _ sealer: EnvironmentSealer, _ log: @Sendable (String) -> Void
    ) -> [String: T] {
        var out: [String: T] = [:]
        let dec = JSONDecoder()
        dec.userInfo[EnvironmentSealer.userInfoKey] = sealer
        for f in (try? FileManager.default.contentsOfDirectory(atPath: d.path)) ?? [] where f.hasSuffix(".json") {
            let url = d.appendingPathComponent(f)
            guard let data = try? Data(contentsOf: url) else { continue }
            do {
                let value = try dec.decode(T.self, from: data)
                out[String(f.dropLast(5))] = value
                if data.range(of: Data("\"environment\"".utf8)) != nil { write(value, to: url, sealer, log) }
            } catch {
                log("skipped \(d.lastPathComponent)/\(f): \(error)")
            }
        }
        return out
    }

    private static func write(
        _ value: some Encodable, to url: URL, _ sealer: EnvironmentSealer, _ log: @Sendable (String) -> Void
    ) {
        let enc = JSONEncoder()
        enc.userInfo[EnvironmentSealer.userInfoKey] = sealer
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        do { try enc.encode(value).withUnsafeBytes { try DurableFile.write($0, to: url.path) } } catch {
            log("could not save \(url.path): \(error)")
        }
    }

    private func save(_ value: some Encodable, _ kind: String, _ name: String) {
        Self.write(value, to: dir.appendingPathComponent("\(kind)/\(name.lowercased()).json"), sealer, configuration.log)
    }

    private func remove(_ kind: String, _ name: String) {
        try? FileManager.default.removeItem(at: dir.appendingPathComponent("\(kind)/\(name.lowercased()).json"))
    }

    private func arn(_ type: String, _ name: String) -> String {
        "arn:aws:sagemaker:\(configuration.region):\(configuration.accountId):\(type)/\(name.lowercased())"
    }

    // MARK: Restart

    /// After a restart: endpoints that were Creating, Updating or InService load their models again.
    func resumeEndpoints() {
        for (k, e) in endpoints where ["Creating", "InService", "Updating", "SystemUpdating"].contains(e.status) {
            var r = e
            r.status = "Creating"
            r.modified = Date()
            endpoints[k] = r
            save(r, "endpoints", r.name)
            startLoading(r)
        }
    }

    func endpointSummaries() -> [[String: String]] {
        endpoints.values.sorted { $0.name < $1.name }.map { e in
            var d: [String: String] = ["name": e.name, "status": e.status, "image": e.model.container.image]
            if let f = e.failureReason { d["failureReason"] = f }
            return d
        }
    }

    /// Names of the models and endpoint configs (for `sous local status`).
    func resourceNames() -> (models: [String], configs: [String]) {
        (models.values.map(\.name).sorted(), configs.values.map(\.name).sorted())
    }

    // MARK: Control plane

    func handle(target: String, body: [UInt8]) async throws -> Response {
        guard target.hasPrefix("SageMaker.") else {
            throw ServiceError(.badRequest, "UnknownOperationException", "Unknown operation \(target).")
        }
        let op = String(target.dropFirst("SageMaker.".count))
        let input = try JSONInput(body)
        let out: [String: Any]
        switch op {
        case "CreateModel": out = try createModel(input)
        case "DescribeModel": out = try describeModel(input)
        case "DeleteModel":
            let n = try input.required("ModelName")
            guard models[n.lowercased()] != nil else { throw ServiceError.validation("Could not find model \"\(arn("model", n))\".") }
            models[n.lowercased()] = nil
            remove("models", n)
            out = [:]
        case "ListModels":
            out = ["Models": list(models.values.map { ($0.name, $0.arn, $0.created) }, input, nameKey: "ModelName", arnKey: "ModelArn")]
        case "CreateEndpointConfig": out = try createEndpointConfig(input)
        case "DescribeEndpointConfig": out = try describeEndpointConfig(input)
        case "DeleteEndpointConfig":
            let n = try input.required("EndpointConfigName")
            guard configs[n.lowercased()] != nil else {
                throw ServiceError.validation("Could not find endpoint configuration \"\(arn("endpoint-config", n))\".")
            }
            configs[n.lowercased()] = nil
            remove("endpoint-configs", n)
            out = [:]
        case "ListEndpointConfigs":
            out = [
                "EndpointConfigs": list(
                    configs.values.map { ($0.name, $0.arn, $0.created) }, input, nameKey: "EndpointConfigName", arnKey: "EndpointConfigArn")
            ]
        case "CreateEndpoint": out = try createEndpoint(input)
        case "DescribeEndpoint": out = try describeEndpoint(input)
        case "DeleteEndpoint":
            let n = try input.required("EndpointName")
            guard endpoints[n.lowercased()] != nil else { throw ServiceError.validation("Could not find endpoint \"\(arn("endpoint", n))\".") }
            loads.removeValue(forKey: n.lowercased())?.cancel()
            hosts.removeValue(forKey: n.lowercased())?.shutdown()
            endpoints[n.lowercased()] = nil
            remove("endpoints", n)
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("containers/\(n.lowercased())"))
            configuration.log("endpoint \(n) deleted")
            out = [:]
        case "ListEndpoints":
            out = [
                "Endpoints": endpoints.values.sorted { $0.created > $1.created }.filter { e in
                    input.string("NameContains").map { e.name.contains($0) } ?? true
                }.map { e in
                    [
                        "EndpointName": e.name, "EndpointArn": e.arn, "CreationTime": e.created.timeIntervalSince1970,
                        "LastModifiedTime": e.modified.timeIntervalSince1970, "EndpointStatus": e.status,
                    ] as [String: Any]
                }
            ]
        case "AddTags": out = try addTags(input)
        case "ListTags": out = try listTags(input)
        case "DeleteTags": out = try deleteTags(input)
        default:
            throw ServiceError(.badRequest, "UnknownOperationException", "The sous local cloud does not implement SageMaker.\(op).")
        }
        return Reply.json(.ok, out)
    }

    private func list(_ items: [(String, String, Date)], _ input: JSONInput, nameKey: String, arnKey: String) -> [[String: Any]] {
        items.filter { item in input.string("NameContains").map { item.0.contains($0) } ?? true }
            .sorted { $0.2 > $1.2 }
            .map { [nameKey: $0.0, arnKey: $0.1, "CreationTime": $0.2.timeIntervalSince1970] }
    }

    private func createModel(_ input: JSONInput) throws -> [String: Any] {
        let name = try input.name("ModelName")
        guard models[name.lowercased()] == nil else {
            throw ServiceError.validation("Cannot create already existing model \"\(arn("model", name))\".")
        }
        let pc = (input.object["PrimaryContainer"] as? [String: Any]) ?? (input.object["Containers"] as? [[String: Any]])?.first
        guard let pc, let image = pc["Image"] as? String, !image.isEmpty else {
            throw ServiceError.validation("1 validation error detected: PrimaryContainer.Image must be specified.")
        }
        let source = (pc["ModelDataSource"] as? [String: Any])?["S3DataSource"] as? [String: Any]
        var env: [String: String] = [:]
        for (k, v) in pc["Environment"] as? [String: Any] ?? [:] { env[k] = v as? String ?? "\(v)" }
        let rec = ModelRecord(
            name: name, arn: arn("model", name), created: Date(), executionRoleArn: input.string("ExecutionRoleArn"),
            container: ContainerDefinition(
                image: image, modelDataUrl: pc["ModelDataUrl"] as? String, modelDataSource: source?["S3Uri"] as? String,
                compression: source?["CompressionType"] as? String, environment: env),
            tags: input.tags())
        models[name.lowercased()] = rec
        save(rec, "models", name)
        return ["ModelArn": rec.arn]
    }

    private func containerJSON(_ c: ContainerDefinition) -> [String: Any] {
        var d: [String: Any] = ["Image": c.image, "Environment": c.environment, "Mode": "SingleModel"]
        if let u = c.modelDataUrl { d["ModelDataUrl"] = u }
        if let s = c.modelDataSource {
            d["ModelDataSource"] = ["S3DataSource": ["S3Uri": s, "S3DataType": "S3Prefix", "CompressionType": c.compression ?? "None"]]
        }
        return d
    }

    private func describeModel(_ input: JSONInput) throws -> [String: Any] {
        let n = try input.required("ModelName")
        guard let m = models[n.lowercased()] else { throw ServiceError.validation("Could not find model \"\(arn("model", n))\".") }
        var d: [String: Any] = [
            "ModelName": m.name, "ModelArn": m.arn, "CreationTime": m.created.timeIntervalSince1970,
            "PrimaryContainer": containerJSON(m.container), "EnableNetworkIsolation": false,
        ]
        if let r = m.executionRoleArn { d["ExecutionRoleArn"] = r }
        return d
    }

    private func createEndpointConfig(_ input: JSONInput) throws -> [String: Any] {
        let name = try input.name("EndpointConfigName")
        guard configs[name.lowercased()] == nil else {
            throw ServiceError.validation("Cannot create already existing endpoint configuration \"\(arn("endpoint-config", name))\".")
        }
        guard let pvs = input.object["ProductionVariants"] as? [[String: Any]], !pvs.isEmpty else {
            throw ServiceError.validation("1 validation error detected: Value null at 'productionVariants' failed to satisfy constraint: Member must not be null")
        }
        var variants: [VariantRecord] = []
        for pv in pvs {
            guard let vn = pv["VariantName"] as? String, let mn = pv["ModelName"] as? String else {
                throw ServiceError.validation("Each production variant needs VariantName and ModelName.")
            }
            guard models[mn.lowercased()] != nil else { throw ServiceError.validation("Could not find model \"\(arn("model", mn))\".") }
            variants.append(
                VariantRecord(
                    variantName: vn, modelName: mn, instanceType: pv["InstanceType"] as? String,
                    initialInstanceCount: (pv["InitialInstanceCount"] as? NSNumber)?.intValue ?? 1,
                    initialVariantWeight: (pv["InitialVariantWeight"] as? NSNumber)?.doubleValue ?? 1))
        }
        let rec = EndpointConfigRecord(name: name, arn: arn("endpoint-config", name), created: Date(), variants: variants, tags: input.tags())
        configs[name.lowercased()] = rec
        save(rec, "endpoint-configs", name)
        return ["EndpointConfigArn": rec.arn]
    }

    private func describeEndpointConfig(_ input: JSONInput) throws -> [String: Any] {
        let n = try input.required("EndpointConfigName")
        guard let c = configs[n.lowercased()] else {
            throw ServiceError.validation("Could not find endpoint configuration \"\(arn("endpoint-config", n))\".")
        }
        return [
            "EndpointConfigName": c.name, "EndpointConfigArn": c.arn, "CreationTime": c.created.timeIntervalSince1970,
            "ProductionVariants": c.variants.map { v -> [String: Any] in
                var d: [String: Any] = [
                    "VariantName": v.variantName, "ModelName": v.modelName, "InitialInstanceCount": v.initialInstanceCount,
                    "InitialVariantWeight": v.initialVariantWeight,
                ]
                if let t = v.instanceType { d["InstanceType"] = t }
                return d
            },
        ]
    }

    private func createEndpoint(_ input: JSONInput) throws -> [String: Any] {
        let name = try input.name("EndpointName")
        let configName = try input.required("EndpointConfigName")
        guard endpoints[name.lowercased()] == nil else {
            throw ServiceError.validation("Cannot create already existing endpoint \"\(arn("endpoint", name))\".")
        }
        guard let config = configs[configName.lowercased()] else {
            throw ServiceError.validation("Could not find endpoint configuration \"\(arn("endpoint-config", configName))\".")
        }
        let variant = config.variants[0]
        guard let model = models[variant.modelName.lowercased()] else {
            throw ServiceError.validation("Could not find model \"\(arn("model", variant.modelName))\".")
        }
        let now = Date()
        let rec = EndpointRecord(
            name: name, arn: arn("endpoint", name), configName: config.name, status: "Creating", failureReason: nil, created: now,
            modified: now, tags: input.tags(), model: model, variant: variant)
        endpoints[name.lowercased()] = rec
        save(rec, "endpoints", name)
        configuration.log("endpoint \(name) creating (image \(model.container.image))")
        startLoading(rec)
        return ["EndpointArn": rec.arn]
    }

    private func describeEndpoint(_ input: JSONInput) throws -> [String: Any] {
        let n = try input.required("EndpointName")
        guard let e = endpoints[n.lowercased()] else { throw ServiceError.validation("Could not find endpoint \"\(arn("endpoint", n))\".") }
        var variant: [String: Any] = ["VariantName": e.variant.variantName, "CurrentWeight": e.variant.initialVariantWeight, "DesiredWeight": e.variant.initialVariantWeight]
        if e.status == "InService" {
            variant["CurrentInstanceCount"] = e.variant.initialInstanceCount
            variant["DesiredInstanceCount"] = e.variant.initialInstanceCount
            variant["DeployedImages"] = [["SpecifiedImage": e.model.container.image, "ResolvedImage": e.model.container.image, "ResolutionTime": e.created.timeIntervalSince1970]]
        }
        var d: [String: Any] = [
            "EndpointName": e.name, "EndpointArn": e.arn, "EndpointConfigName": e.configName, "EndpointStatus": e.status,
            "CreationTime": e.created.timeIntervalSince1970, "LastModifiedTime": e.modified.timeIntervalSince1970,
            "ProductionVariants": [variant],
        ]
        if let f = e.failureReason { d["FailureReason"] = f }
        return d
    }

    private func resource(for arnValue: String) throws -> (kind: String, key: String) {
        let parts = arnValue.split(separator: ":", maxSplits: 5).map(String.init)
        guard parts.count == 6, let slash = parts[5].firstIndex(of: "/") else {
            throw ServiceError.validation("\(arnValue) is not a SageMaker resource ARN.")
        }
        let type = String(parts[5][..<slash])
        let key = String(parts[5][parts[5].index(after: slash)...]).lowercased()
        let exists: Bool =
            switch type {
            case "model": models[key] != nil
            case "endpoint-config": configs[key] != nil
            case "endpoint": endpoints[key] != nil
            default: false
            }
        guard exists else { throw ServiceError.validation("Could not find resource \"\(arnValue)\".") }
        return (type, key)
    }

    private func updateTags(_ arnValue: String, _ change: (inout [ResourceTag]) -> Void) throws -> [ResourceTag] {
        let (type, key) = try resource(for: arnValue)
        switch type {
        case "model":
            change(&models[key]!.tags)
            save(models[key]!, "models", key)
            return models[key]!.tags
        case "endpoint-config":
            change(&configs[key]!.tags)
            save(configs[key]!, "endpoint-configs", key)
            return configs[key]!.tags
        default:
            change(&endpoints[key]!.tags)
            save(endpoints[key]!, "endpoints", key)
            return endpoints[key]!.tags
        }
    }

    private func addTags(_ input: JSONInput) throws -> [String: Any] {
        let a = try input.required("ResourceArn")
        let new = input.tags()
        let tags = try updateTags(a) { tags in
            for t in new {
                tags.removeAll { $0.key == t.key }
                tags.append(t)
            }
        }
        return ["Tags": tags.map(\.json)]
    }

    private func listTags(_ input: JSONInput) throws -> [String: Any] {
        let a = try input.required("ResourceArn")
        return ["Tags": try updateTags(a) { _ in }.map(\.json)]
    }

    private func deleteTags(_ input: JSONInput) throws -> [String: Any] {
        let a = try input.required("ResourceArn")
        let keys = Set(input.object["TagKeys"] as? [String] ?? [])
        _ = try updateTags(a) { $0.removeAll { keys.contains($0.key) } }
        return [:]
    }

    // MARK: Endpoint loading

    private func startLoading(_ rec: EndpointRecord) {
        let key = rec.name.lowercased()
        let loader = EndpointLoader(
            configuration: configuration, s3: s3, workDirectory: dir.appendingPathComponent("containers/\(key)", isDirectory: true))
        loads[key] = Task {
            let result: Result<EndpointHost, EndpointFailure>
            do {
                result = .success(try await loader.load(rec))
            } catch let e as EndpointFailure {
                result = .failure(e)
            } catch is CancellationError {
                return
            } catch {
                result = .failure(EndpointFailure("The model could not be loaded: \(error)"))
            }
            self.finishLoading(key, arn: rec.arn, result)
        }
    }

    private func finishLoading(_ key: String, arn: String, _ result: Result<EndpointHost, EndpointFailure>) {
        loads[key] = nil
        guard var e = endpoints[key], e.arn == arn, e.status == "Creating" else {
            if case .success(let h) = result { h.shutdown() }
            return
        }
        e.modified = Date()
        switch result {
        case .success(let h):
            hosts[key] = h
            e.status = "InService"
            e.failureReason = nil
            configuration.log("endpoint \(e.name) InService")
        case .failure(let f):
            e.status = "Failed"
            e.failureReason = String(f.description.prefix(1024))
            configuration.log("endpoint \(e.name) Failed: \(f.description)")
        }
        endpoints[key] = e
        save(e, "endpoints", e.name)
    }

    // MARK: Runtime

    func host(_ name: String) throws -> EndpointHost {
        guard let e = endpoints[name.lowercased()], e.status == "InService", let h = hosts[name.lowercased()] else {
            throw ServiceError(.badRequest, "ValidationError", "Endpoint \(name) of account \(configuration.accountId) not found.")
        }
        return h
    }

    /// InvokeEndpoint (`streaming` false) and InvokeEndpointWithResponseStream.
    nonisolated func invoke(endpoint name: String, body: [UInt8], streaming: Bool) async throws -> Response {
        let host = try await host(name)
        return try Invocation.respond(host: host, body: body, streaming: streaming, accountId: configuration.accountId)
    }
}
