import Foundation
import SousAWS
import SousEngine
import SousRecipe
import SousSteps

/// Every SageMaker endpoint, endpoint config and model sous tagged in one region (AWS or the local cloud), and for
/// each whether a workspace on this machine still owns it: what `sous status --cloud` shows and `sous gc --cloud`
/// deletes.
struct CloudInventory {
    /// One sous-tagged resource.
    struct Item {
        var type: String
        var name: String
        var arn: String
        var created: Date?
        var tags: [String: String]
        /// Endpoints: the status, the config, what it runs on.
        var status: String?
        var config: String?
        var billing: EndpointBilling?
        /// Endpoint configs: their models.
        var models: [String] = []
        /// Why no workspace on this machine owns it (nil: a ledger holds it).
        var orphan: String?

        var workspace: String? { tags["sous:workspace"] }
        var recipe: String? { tags["sous:recipe"] }
        func age(now: Date = Date()) -> Double { created.map { now.timeIntervalSince($0) } ?? 0 }
    }

    var region: String
    var local: Bool
    var endpoints: [Item] = []
    var configs: [Item] = []
    var models: [Item] = []

    var orphans: [Item] { endpoints.filter { $0.orphan != nil } + configs.filter { $0.orphan != nil } + models.filter { $0.orphan != nil } }

    /// Lists the region's endpoints, configs and models and keeps those tagged `sous:workspace`.
    static func load(client: AWSClient, local: Bool) async throws -> CloudInventory {
        let sm = SageMakerClient(client)
        var inv = CloudInventory(region: client.region, local: local)
        var ledgers: [String: ResourceLedger] = [:]
        func orphan(_ type: String, _ name: String, _ tags: [String: String]) -> String? {
            guard let ws = tags["sous:workspace"], let recipe = tags["sous:recipe"] else { return "it has no sous:recipe tag" }
            guard FileManager.default.fileExists(atPath: ws) else { return "its workspace \(ws) is gone (or on another machine)" }
            let path = WorkspaceLayout(root: ws, recipe: recipe).ledgerPath
            guard FileManager.default.fileExists(atPath: path), let ledger = ledgers[path] ?? (try? ResourceLedger(path: path)) else {
                return "recipe \(recipe) has no ledger in \(ws) any more"
            }
            ledgers[path] = ledger
            return ledger.live.contains { $0.type == type && $0.name == name } ? nil : "the ledger of \(recipe) in \(ws) does not hold it"
        }
        /// The resource as an item when sous tagged it (`sous:workspace`), else nil.
        func tagged(_ type: String, _ name: String, _ arn: String, _ created: Date?) async throws -> Item? {
            let tags = try await AWSError.nilIfNotFound({ try await sm.listTags(resourceArn: arn) }) ?? [:]
            guard tags["sous:workspace"] != nil else { return nil }
            var item = Item(type: type, name: name, arn: arn, created: created, tags: tags)
            item.orphan = orphan(type, name, tags)
            return item
        }
        for e in try await sm.listEndpoints() {
            guard var item = try await tagged("sagemaker.endpoint", e.name, e.arn, e.creationTime) else { continue }
            item.status = e.status
            if let d = try await AWSError.nilIfNotFound({ try await sm.describeEndpoint(e.name) }) {
                item.config = d.configName
                if let c = try await AWSError.nilIfNotFound({ try await sm.describeEndpointConfig(d.configName) }), let v = c.variants.first {
                    item.billing = EndpointBilling(instanceType: v.instanceType, count: v.initialInstanceCount, region: client.region, local: local)
                    item.models = c.variants.map(\.modelName)
                }
            }
            inv.endpoints.append(item)
        }
        for c in try await sm.listEndpointConfigs() {
            guard var item = try await tagged("sagemaker.endpoint-config", c.name, c.arn, c.creationTime) else { continue }
            item.models = (try await AWSError.nilIfNotFound({ try await sm.describeEndpointConfig(c.name) }))?.variants.map(\.modelName) ?? []
            inv.configs.append(item)
        }
        for m in try await sm.listModels() {
            if let item = try await tagged("sagemaker.model", m.name, m.arn, m.creationTime) { inv.models.append(item) }
        }
        // A config or model that an owned endpoint (or owned config) uses is not an orphan, whatever its ledger says.
        let usedConfigs = Set(inv.endpoints.filter { $0.orphan == nil }.compactMap(\.config))
        for i in inv.configs.indices where usedConfigs.contains(inv.configs[i].name) { inv.configs[i].orphan = nil }
        let usedModels = Set((inv.endpoints.filter { $0.orphan == nil } + inv.configs.filter { $0.orphan == nil }).flatMap(\.models))
        for i in inv.models.indices where usedModels.contains(inv.models[i].name) { inv.models[i].orphan = nil }
        return inv
    }

    /// The AWS client for `--cloud` (the local cloud's with `--local`).
    static func client(environment: [String: String], region: String?) async throws -> AWSClient {
        try await AWSClient.make(environment: environment, region: region)
    }

    /// One line per endpoint: name, status, age, cost per hour, cost so far, recipe and workspace, orphan or not.
    func endpointLines(style: OutputStyle) -> [String] {
        endpoints.map { e in
            var line = "  \(e.name)  \(e.status ?? "?")  up \(DurationText.duration(e.age()))"
            if let b = e.billing { line += "  \(b.rate), \(b.costSoFar(e.age())) so far" } else { line += "  (cost unknown)" }
            line += "\n      recipe \(e.recipe ?? "?"), workspace \(e.workspace ?? "?")"
            if let o = e.orphan { line += "\n      " + style.yellow("orphan: \(o)") }
            return line
        }
    }
}
