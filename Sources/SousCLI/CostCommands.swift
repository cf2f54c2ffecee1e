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

/// `sous gc --cloud`: deletes the sous-tagged endpoints, endpoint configs and models of the region that no workspace
/// on this machine owns, in dependency order (endpoint → endpoint config → model), after asking.
struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete orphans: sous-tagged endpoints, endpoint configs and models of the region that no workspace on this machine owns.",
        discussion: """
            A resource is an orphan when its sous:workspace folder is gone, its recipe has no ledger there, or that \
            ledger does not hold it (the workspace was deleted, or sous lost track of it). Resources of workspaces on \
            other machines look like orphans too: read the list before answering. `sous status --cloud` shows the \
            same list without deleting.
            """)

    @Flag(name: .long, help: "Look at the cloud (the region's sous-tagged resources); required.")
    var cloud = false
    @Flag(name: .long, help: "The local cloud of the workspace instead of AWS.")
    var local = false
    @Option(help: "The region (default: AWS_REGION or the profile's).")
    var region: String?
    @Option(name: .customLong("workspace"), help: "The workspace whose local cloud --local means (default: $SOUS_WORKSPACE or ./workspace).")
    var workspace: String?
    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.")
    var yes = false

    func validate() throws {
        if !cloud { throw ValidationError("`sous gc` needs --cloud: it deletes the region's sous-tagged resources that no workspace owns (`sous destroy RECIPE` cleans up one recipe)") }
    }

    func run() async throws {
        guard let client = try await CloudTarget.client(local: local, workspace: workspace, region: region) else { return }
        let inv: CloudInventory
        do { inv = try await CloudInventory.load(client: client, local: local) } catch { throw fail(error) }
        let orphans = inv.orphans
        let place = local ? "the local cloud" : "\(inv.region)"
        guard !orphans.isEmpty else {
            Console.out("no orphans in \(place): every sous-tagged endpoint, endpoint config and model belongs to a workspace here\n")
            return
        }
        let hourly = inv.endpoints.filter { $0.orphan != nil }.compactMap { $0.billing?.hourly }.reduce(0, +)
        Console.out("orphans in \(place) (\(orphans.count)), deleted in this order:\n")
        for o in orphans {
            var line = "  \(CloudTarget.noun(o.type)) \(o.name)"
            if let b = o.billing { line += "  \(b.rate), up \(DurationText.duration(o.age()))" }
            Console.out(line + "\n      \(o.orphan ?? "")\n")
        }
        if hourly > 0 { Console.out("deleting them saves ≈ \(Dollars.format(hourly))/h (estimate)\n") }
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                Console.err("error: pass --yes to delete without a prompt\n")
                throw ExitStatus.invalid
            }
            Console.err("Delete them? [y/N] ")
            guard (readLine() ?? "").lowercased().hasPrefix("y") else { throw ExitStatus.stepFailed }
        }
        let sm = SageMakerClient(client)
        var failures: [String] = []
        for o in orphans {
            do {
                switch o.type {
                case "sagemaker.endpoint": _ = try await AWSError.nilIfNotFound { try await sm.deleteEndpoint(o.name) }
                case "sagemaker.endpoint-config": _ = try await AWSError.nilIfNotFound { try await sm.deleteEndpointConfig(o.name) }
                default: _ = try await AWSError.nilIfNotFound { try await sm.deleteModel(o.name) }
                }
                Console.out("deleted \(CloudTarget.noun(o.type)) \(o.name)\n")
            } catch {
                failures.append("\(CloudTarget.noun(o.type)) \(o.name): \(error)")
            }
        }
        if !failures.isEmpty {
            Console.err("error: could not delete \(failures.count) resource(s):\n" + failures.map { "  " + $0 }.joined(separator: "\n") + "\n")
            throw ExitStatus.stepFailed
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
