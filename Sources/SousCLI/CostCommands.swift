import ArgumentParser
import Foundation
import SousAWS
import SousEngine
import SousLocalCloud
import SousRecipe
import SousSteps

/// `sous keep RECIPE 2h`: the recipe's running endpoints are deleted that long from now (or never, `--forever`), by
/// their time-to-live schedule in EventBridge Scheduler, which works even if sous never runs again.
struct KeepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keep",
        abstract: "Keep a recipe's running endpoints for DURATION more (2h, 90m, 1d), then have them deleted, even if sous never runs again.",
        discussion: """
            Moves (or makes) each live endpoint's one-time EventBridge Scheduler schedule, whose target deletes the \
            endpoint at that time; `--forever` removes the schedules instead. A new schedule needs a role EventBridge \
            Scheduler may assume (--role, the one the schedule had, or $SOUS_SCHEDULER_ROLE). docs/steps-aws.md, \
            "Time to live".
            """)

    @OptionGroup var recipe: RecipeOptions
    @Argument(help: ArgumentHelp("How long from now until the endpoints are deleted: 2h, 90m, 1h30m, 1d.", valueName: "duration"))
    var duration: String?
    @Flag(name: .long, help: "Remove the endpoints' timers: they run (and are billed) until `sous destroy`.")
    var forever = false
    @Option(name: .customLong("role"), help: ArgumentHelp("The IAM role EventBridge Scheduler assumes to delete the endpoints.", valueName: "arn"))
    var role: String?
    @OptionGroup var cloud: CloudOptions
    @OptionGroup var lock: LockOptions

    func validate() throws {
        if forever == (duration != nil) { throw ValidationError("give a duration (e.g. 2h) or --forever") }
        if let d = duration, EndpointTTL.parse(d) == nil { throw ValidationError("\(d) is not a duration; write it like 2h, 90m, 1h30m or 1d") }
    }

    func run() async throws {
        let registry = BuiltinSteps.registry()
        let (recipe, _) = try await self.recipe.load(registry: registry)
        let engine = Engine(registry: registry, workspaceRoot: self.recipe.workspaceRoot)
        var options = RunOptions()
        options.lockWait = lock.wait
        let cloud = try await self.cloud.open(for: recipe, workspaceRoot: self.recipe.workspaceRoot, options: &options)
        let seconds = duration.flatMap(EndpointTTL.parse)
        let arg = self.recipe.recipe
        do {
            let n = try await engine.withLiveResources(recipe, type: "sagemaker.endpoint", options: options, command: "sous keep") { entry, ctx in
                if let seconds {
                    let at = try await EndpointTTL.keep(ctx, endpoint: entry, seconds: seconds, role: role)
                    Console.out("endpoint \(entry.name) is deleted at \(EndpointTTL.format(at)) (in \(EndpointTTL.describe(seconds)))\n")
                } else {
                    try await EndpointTTL.cancel(ctx, endpoint: entry)
                    Console.out("endpoint \(entry.name) has no timer any more: it runs until `sous destroy \(arg)`\n")
                }
            }
            if n == 0 { Console.out("no endpoint of \(recipe.name) is running (its ledger holds none)\n") }
        } catch {
            await cloud?.close(liveEndpoints: RunRecap.liveEndpoints(engine.layout(for: recipe).ledgerPath), quiet: false)
            throw fail(error)
        }
        await cloud?.close(liveEndpoints: RunRecap.liveEndpoints(engine.layout(for: recipe).ledgerPath), quiet: false)
    }
}

/// `sous gc --cloud`: deletes what sous left behind that no workspace on this machine owns, after asking: the
/// sous-tagged endpoints, endpoint configs and models of the regions (in dependency order: endpoint → its ttl schedule →
/// endpoint config → model), sous's ttl schedules whose endpoint is gone, and unfinished multipart uploads under the S3
/// locations sous's uploads used.
struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete orphans: sous-tagged endpoints, configs and models no workspace here owns, ttl schedules of gone endpoints, unfinished uploads.",
        discussion: """
            A SageMaker resource is an orphan when its sous:workspace folder is gone, its recipe has no ledger there, or \
            that ledger does not hold it (the workspace was deleted, or sous lost track of it). Resources of workspaces on \
            other machines look like orphans too: read the list before answering. A ttl schedule (sous-ttl-…, EventBridge \
            Scheduler) is an orphan when its endpoint is gone or an orphan. An unfinished multipart upload is swept when it \
            is under an S3 location an s3.upload step of a workspace's ledger wrote to (this workspace's, and those the \
            region's sous tags name that are on this machine) and began more than --min-upload-age ago (an upload still \
            running is left alone; an aborted upload cannot be resumed). Schedules and uploads are looked at on AWS only. \
            `sous status --cloud` shows the SageMaker part without deleting.
            """)

    @Flag(name: .long, help: "Look at the cloud (the region's sous-tagged resources); required.")
    var cloud = false
    @Flag(name: .long, help: "The local cloud of the workspace instead of AWS.")
    var local = false
    @Option(
        name: .customLong("region"),
        help: ArgumentHelp("A region to look in (repeat it, or separate with commas; default: AWS_REGION or the profile's).", valueName: "region"))
    var regions: [String] = []
    @Flag(name: .long, help: "Every region sous has prices for: us-east-1 and those `sous prices update` cached.")
    var allRegions = false
    @Option(name: .customLong("workspace"), help: "The workspace whose local cloud --local means, and whose uploads are swept (default: $SOUS_WORKSPACE or ./workspace).")
    var workspace: String?
    @Option(
        name: .customLong("min-upload-age"),
        help: ArgumentHelp("Leave unfinished uploads begun less than this long ago (2h, 30m; 0 sweeps all).", valueName: "duration"))
    var minUploadAge = "1h"
    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.")
    var yes = false

    var regionList: [String] {
        if allRegions {
            return [SageMakerInstanceType.pricedRegion] + SageMakerPriceList.cachedRegions(environment: ProcessInfo.processInfo.environment)
                .filter { $0 != SageMakerInstanceType.pricedRegion }
        }
        var seen: Set<String> = []
        return regions.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    var minimumUploadAge: Double? { minUploadAge == "0" ? 0 : EndpointTTL.parse(minUploadAge) }

    func validate() throws {
        if !cloud { throw ValidationError("`sous gc` needs --cloud: it deletes the region's sous-tagged resources that no workspace owns (`sous destroy RECIPE` cleans up one recipe)") }
        if allRegions && !regions.isEmpty { throw ValidationError("give --region or --all-regions, not both") }
        if local && (allRegions || regionList.count > 1) { throw ValidationError("the local cloud has one region: --local takes no --region list or --all-regions") }
        for r in regionList where !SageMakerPriceList.isRegionName(r) { throw ValidationError("'\(r)' is not an AWS region name (like us-east-1)") }
        if minimumUploadAge == nil { throw ValidationError("--min-upload-age \(minUploadAge) is not a duration; write it like 1h, 30m, or 0") }
    }

    func run() async throws {
        let list = regionList
        guard let client = try await CloudTarget.client(local: local, workspace: workspace, region: list.first) else { return }
        var inventories: [CloudInventory] = []
        do {
            for region in local ? [client.region] : (list.isEmpty ? [client.region] : list) {
                var inv = try await CloudInventory.load(client: local ? client : client.withRegion(region), local: local)
                if !local { await inv.loadSchedules(client: client.withRegion(region)) }
                inventories.append(inv)
            }
        } catch { throw fail(error) }
        var uploads: [CloudInventory.Item] = []
        var unchecked = inventories.flatMap(\.unchecked)
        if !local {
            let tagged = inventories.flatMap { $0.endpoints + $0.configs + $0.models }.compactMap(\.workspace)
            let roots = [RecipeOptions.rootFor(workspace)] + tagged.filter { FileManager.default.fileExists(atPath: $0) }
            let found = await CloudInventory.unfinishedUploads(client: client, workspaces: roots, minimumAge: minimumUploadAge ?? 3600)
            uploads = found.items
            unchecked += found.unchecked
        }
        for u in unchecked { Console.err("warning: could not look at \(u)\n") }

        var orphans: [CloudInventory.Item] = []
        for inv in inventories {
            let found = inv.orphans
            let place = local ? "the local cloud" : inv.region
            orphans += found
            guard !found.isEmpty else {
                Console.out("no orphans in \(place): every sous-tagged endpoint, endpoint config and model belongs to a workspace here\n")
                continue
            }
            Console.out("orphans in \(place) (\(found.count)), deleted in this order:\n")
            for o in found { Console.out(Self.line(o)) }
            let hourly = inv.endpoints.filter { $0.orphan != nil }.compactMap { $0.billing?.hourly }.reduce(0, +)
            if hourly > 0 { Console.out("deleting them saves ≈ \(Dollars.format(hourly))/h (estimate)\n") }
        }
        if !uploads.isEmpty {
            Console.out("unfinished multipart uploads under sous's S3 locations (\(uploads.count)), aborted:\n")
            for u in uploads { Console.out(Self.line(u)) }
        }
        orphans += uploads
        guard !orphans.isEmpty else { return }
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                Console.err("error: pass --yes to delete without a prompt\n")
                throw ExitStatus.invalid
            }
            Console.err("Delete them? [y/N] ")
            guard (readLine() ?? "").lowercased().hasPrefix("y") else { throw ExitStatus.stepFailed }
        }
        var failures: [String] = []
        for inv in inventories {
            let regional = local ? client : client.withRegion(inv.region)
            for o in inv.orphans {
                do {
                    try await Self.delete(o, client: regional)
                    Console.out("deleted \(CloudTarget.noun(o.type)) \(o.name)\n")
                } catch {
                    failures.append("\(CloudTarget.noun(o.type)) \(o.name): \(error)")
                }
            }
        }
        for u in uploads {
            guard let up = u.upload else { continue }
            do {
                _ = try await AWSError.nilIfNotFound { try await S3Client(client.withRegion(up.region)).abortMultipartUpload(bucket: up.bucket, key: up.key, uploadId: up.id) }
                Console.out("aborted \(CloudTarget.noun(u.type)) \(u.name)\n")
            } catch {
                failures.append("\(CloudTarget.noun(u.type)) \(u.name): \(error)")
            }
        }
        if !failures.isEmpty {
            Console.err("error: could not delete \(failures.count) resource(s):\n" + failures.map { "  " + $0 }.joined(separator: "\n") + "\n")
            throw ExitStatus.stepFailed
        }
    }

    /// `  endpoint NAME  rate, up 3h12m` and the reason on the next line.
    static func line(_ o: CloudInventory.Item) -> String {
        var line = "  \(CloudTarget.noun(o.type)) \(o.name)"
        if let b = o.billing { line += "  \(b.rate), up \(DurationText.duration(o.age()))" }
        if o.type == CloudInventory.uploadType, o.created != nil { line += "  begun \(DurationText.duration(o.age())) ago" }
        return line + "\n      \(o.orphan ?? "")\n"
    }

    static func delete(_ o: CloudInventory.Item, client: AWSClient) async throws {
        let sm = SageMakerClient(client)
        switch o.type {
        case "sagemaker.endpoint": _ = try await AWSError.nilIfNotFound { try await sm.deleteEndpoint(o.name) }
        case "sagemaker.endpoint-config": _ = try await AWSError.nilIfNotFound { try await sm.deleteEndpointConfig(o.name) }
        case EndpointTTL.resourceType: try await SchedulerClient(client).delete(o.name, groupName: o.group)
        default: _ = try await AWSError.nilIfNotFound { try await sm.deleteModel(o.name) }
        }
    }
}

/// Where `status --cloud` and `gc --cloud` look: AWS (the configured credentials and region) or a running local cloud.
enum CloudTarget {
    /// The client, or nil (having said so) when `local` and the local cloud is not running.
    static func client(local: Bool, workspace: String?, region: String?) async throws -> AWSClient? {
        var env = ProcessInfo.processInfo.environment
        if local {
            let root = resolveWorkspace(workspace)
            let control = LocalCloudControl(workspace: URL(fileURLWithPath: root))
            guard let info = await control.runningServer() else {
                Console.out("the local cloud of \(root) is not running: nothing runs on it (`sous local start` starts it)\n")
                return nil
            }
            for k in LocalCloudControl.unsetVariables { env.removeValue(forKey: k) }
            for (k, v) in LocalCloudControl.environment(info, try control.credentials()) { env[k] = v }
            env["AWS_EC2_METADATA_DISABLED"] = "true"
        }
        do {
            return try await AWSClient.make(environment: env, region: local ? nil : region)
        } catch {
            throw fail(error)
        }
    }

    static func noun(_ type: String) -> String { RunRecap.noun(type) }
}

/// The live endpoints of a workspace's ledgers, with their status asked from where they run.
enum WorkspaceEndpoints {
    /// The status of each endpoint: `InService` (from AWS or the local cloud), `stopped with the local cloud`, or
    /// `status unknown (…)`.
    static func statuses(_ endpoints: [LedgerEndpoint], workspaceRoot: String) async -> [String: String] {
        var out: [String: String] = [:]
        let local = endpoints.filter { $0.billing?.local == true }
        if !local.isEmpty {
            let control = LocalCloudControl(workspace: URL(fileURLWithPath: workspaceRoot))
            let running = await control.runningServer()
            let listed = running == nil ? nil : try? await control.get(running!, "/_sous/status")
            let statuses = Dictionary(
                ((listed?["endpoints"] as? [[String: Any]]) ?? []).compactMap { e in (e["name"] as? String).map { ($0, e["status"] as? String ?? "?") } },
                uniquingKeysWith: { a, _ in a })
            for e in local {
                out[e.name] = running == nil ? "stopped with the local cloud" : statuses[e.name] ?? "gone from the local cloud"
            }
        }
        var clients: [String: AWSClient] = [:]
        for e in endpoints where e.billing?.local != true {
            let region = e.region ?? ""
            do {
                let client: AWSClient
                if let c = clients[region] { client = c } else {
                    client = try await AWSClient.make(environment: ProcessInfo.processInfo.environment, region: e.region)
                    clients[region] = client
                }
                out[e.name] = try await AWSError.nilIfNotFound({ try await SageMakerClient(client).describeEndpoint(e.name) })?.status ?? "gone (deleted outside sous, or by its ttl)"
            } catch {
                out[e.name] = "status unknown (\(String(describing: error).prefix(120)))"
            }
        }
        return out
    }
}
