import Foundation
import SousAWS
import SousEngine
import SousRecipe
import SousSteps

/// Every SageMaker endpoint, endpoint config and model sous tagged in one region (AWS or the local cloud), and for
/// each whether a workspace on this machine still owns it: what `sous status --cloud` shows and `sous gc --cloud`
/// deletes. For `gc` also sous's time-to-live schedules whose endpoint is gone (``loadSchedules(client:)``) and the
/// unfinished multipart uploads under the S3 prefixes sous's uploads use (``unfinishedUploads(client:workspaces:minimumAge:)``).
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
        /// Schedules: their group. Uploads: their bucket, key, upload id and the bucket's region.
        var group: String?
        var upload: (bucket: String, key: String, id: String, region: String)?

        var workspace: String? { tags["sous:workspace"] }
        var recipe: String? { tags["sous:recipe"] }
        func age(now: Date = Date()) -> Double { created.map { now.timeIntervalSince($0) } ?? 0 }
    }

    var region: String
    var local: Bool
    var endpoints: [Item] = []
    var configs: [Item] = []
    var models: [Item] = []
    /// `scheduler.schedule`: sous's time-to-live schedules (`sous-ttl-…`), for `gc`.
    var schedules: [Item] = []
    /// Every endpoint of the region, sous's or not (a schedule whose endpoint is not among them is an orphan).
    var allEndpointNames: Set<String> = []
    /// What could not be looked at, and why (said by `gc`, which goes on with the rest).
    var unchecked: [String] = []

    /// In the order `gc` deletes them: endpoints, their schedules, endpoint configs, models.
    var orphans: [Item] { (endpoints + schedules + configs + models).filter { $0.orphan != nil } }

    /// The ledger type of an unfinished multipart upload `gc` aborts.
    static let uploadType = "s3.multipart-upload"

    /// Adds sous's time-to-live schedules (named `sous-ttl-…`, target SageMaker DeleteEndpoint): an orphan when its
    /// endpoint is gone from the region or is an orphan itself. A failure to list is noted in `unchecked`.
    mutating func loadSchedules(client: AWSClient) async {
        let scheduler = SchedulerClient(client)
        let listed: [SchedulerClient.Summary]
        do {
            listed = try await scheduler.list(namePrefix: "sous-ttl-")
        } catch {
            unchecked.append("EventBridge Scheduler schedules in \(region) (\(error))")
            return
        }
        let orphanEndpoints = Set(endpoints.filter { $0.orphan != nil }.map(\.name))
        for s in listed where s.targetArn == SchedulerClient.deleteEndpointTarget {
            do {
                guard let full = try await AWSError.nilIfNotFound({ try await scheduler.get(s.name, groupName: s.groupName) }) else { continue }
                let input = (try? JSONSerialization.jsonObject(with: Data(full.input.utf8))) as? [String: Any]
                guard let endpoint = input?["EndpointName"] as? String else { continue }
                var item = Item(type: EndpointTTL.resourceType, name: s.name, arn: full.arn, created: nil, tags: [:])
                item.group = s.groupName
                if !allEndpointNames.contains(endpoint) {
                    item.orphan = "its endpoint \(endpoint) is gone"
                } else if orphanEndpoints.contains(endpoint) {
                    item.orphan = "its endpoint \(endpoint) is an orphan"
                }
                schedules.append(item)
            } catch {
                unchecked.append("schedule \(s.name) (\(error))")
            }
        }
    }

    /// The unfinished multipart uploads (begun at least `minimumAge` seconds ago) under the S3 locations the `s3.upload`
    /// steps of the ledgers in `workspaces` wrote to; and what could not be looked at.
    static func unfinishedUploads(client: AWSClient, workspaces: [String], minimumAge: Double, now: Date = Date()) async -> (items: [Item], unchecked: [String]) {
        var items: [Item] = []
        var unchecked: [String] = []
        var seen: Set<String> = []
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        for root in Set(workspaces).sorted() {
            let recipes = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
            for recipe in recipes.sorted() {
                let path = WorkspaceLayout(root: root, recipe: recipe).ledgerPath
                guard FileManager.default.fileExists(atPath: path), let ledger = try? ResourceLedger(path: path) else { continue }
                for e in ledger.entries where e.type == "s3.objects" {
                    guard let uri = S3URI(e.name), !uri.key.isEmpty, seen.insert(e.name).inserted else { continue }
                    let folder = uri.key.hasSuffix("/")
                    let region = e.attributes["region"]?.stringValue ?? client.region
                    do {
                        let listed = try await S3Client(client.withRegion(region)).listMultipartUploads(bucket: uri.bucket, prefix: uri.key)
                        for u in listed where folder ? u.key.hasPrefix(uri.key) : u.key == uri.key {
                            let began = iso.date(from: u.initiated) ?? plain.date(from: u.initiated)
                            if let began, now.timeIntervalSince(began) < minimumAge { continue }
                            var item = Item(type: uploadType, name: "s3://\(uri.bucket)/\(u.key)", arn: "", created: began, tags: [:])
                            item.upload = (uri.bucket, u.key, u.uploadId, region)
                            item.orphan = "unfinished upload \(u.uploadId.prefix(16))… under \(e.name) (recipe \(recipe) in \(root)); its parts are billed as storage"
                            items.append(item)
                        }
                    } catch {
                        unchecked.append("uploads under \(e.name) (\(error))")
                    }
                }
            }
        }
        return (items, unchecked)
    }

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
        let listed = try await sm.listEndpoints()
        inv.allEndpointNames = Set(listed.map(\.name))
        for e in listed {
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
