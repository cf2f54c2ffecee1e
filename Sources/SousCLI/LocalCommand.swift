import ArgumentParser
import Foundation
import SousLocalCloud
import SousSteps
import Synchronization

/// `sous local …`: the loopback cloud (S3 + SageMaker + SageMaker Runtime) of a workspace.
struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Run the local cloud: S3, SageMaker and SageMaker Runtime on 127.0.0.1, no AWS account needed.",
        discussion: """
            The server keeps its data in WORKSPACE/.sous/local-cloud/ (server.json, credentials.json, data/, logs/). \
            `eval "$(sous local env)"` points the AWS CLI and boto3 at it; `sous run --local RECIPE` starts it \
            when needed.
            """,
        subcommands: [
            LocalStart.self, LocalStop.self, LocalStatus.self, LocalLogs.self, LocalEnv.self, LocalServe.self,
        ])
}

struct WorkspaceOption: ParsableArguments {
    @Option(name: .customLong("workspace"), help: "The workspace folder (default: $SOUS_WORKSPACE or ./workspace).")
    var workspace: String?

    var url: URL { URL(fileURLWithPath: resolveWorkspace(workspace)) }
}

/// `--workspace`, else `$SOUS_WORKSPACE`, else `./workspace`, as an absolute path.
func resolveWorkspace(_ option: String?) -> String {
    let p = option ?? ProcessInfo.processInfo.environment["SOUS_WORKSPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? "workspace"
    return p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
}

/// The path of the running `sous` executable (to start `sous local serve`).
func sousExecutablePath() -> String {
    if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
    return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
}

/// Starts the workspace's local cloud if it is not running and returns `base` with the endpoint variables
/// and local credentials that point every step at it (used by `run/plan/destroy --local` and `local: true`).
/// The local cloud as one command uses it: started when it is not running (and then stopped again by
/// `close` when the command leaves nothing running on it), and the environment that points the steps at it.
struct LocalCloudSession {
    /// The steps' environment: the AWS endpoint variables and local credentials.
    var environment: [String: String]
    /// True when this command started the server.
    var started: Bool
    var workspaceRoot: String

    static func open(workspaceRoot: String, base: [String: String], quiet: Bool = false) async throws -> LocalCloudSession {
        let control = LocalCloudControl(workspace: URL(fileURLWithPath: workspaceRoot))
        let (info, started) = try await control.start(executable: sousExecutablePath(), workspace: URL(fileURLWithPath: workspaceRoot), port: nil)
        if started && !quiet { Console.err("local cloud started at \(info.endpointURL) (pid \(info.pid))\n") }
        var env = base
        for k in LocalCloudControl.unsetVariables { env.removeValue(forKey: k) }
        for (k, v) in LocalCloudControl.environment(info, try control.credentials()) { env[k] = v }
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        // Costs show as "local: $0", priced at the AWS instance type the recipe names.
        env[EndpointCosts.localCloudVariable] = info.endpointURL
        // The local cloud accepts any role; a recipe needs none of the user's.
        if (env["SOUS_SAGEMAKER_ROLE"] ?? "").isEmpty {
            env["SOUS_SAGEMAKER_ROLE"] = "arn:aws:iam::000000000000:role/sous-local-execution-role"
        }
        if (env[EndpointTTL.roleVariable] ?? "").isEmpty {
            env[EndpointTTL.roleVariable] = "arn:aws:iam::000000000000:role/sous-local-scheduler-role"
        }
        return LocalCloudSession(environment: env, started: started, workspaceRoot: workspaceRoot)
    }

    /// Stops the server if this command started it and `liveEndpoints` is empty; otherwise says
    /// that it keeps running and how to stop it.
    func close(liveEndpoints: [String], quiet: Bool) async {
        guard started else { return }
        if liveEndpoints.isEmpty {
            let stopped = await LocalCloudControl(workspace: URL(fileURLWithPath: workspaceRoot)).stop()
            if stopped && !quiet { Console.err("local cloud stopped (started for this run; its data stays)\n") }
        } else if !quiet {
            Console.err("the local cloud keeps running for \(liveEndpoints.joined(separator: ", ")); `sous local stop` stops it\n")
        }
    }
}

struct LocalStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Start the local cloud in the background (no-op when it already runs).")
    @OptionGroup var ws: WorkspaceOption
    @Option(help: "Port on 127.0.0.1 (default: the last one used if free, else any free port).")
    var port: Int?

    func run() async throws {
        let control = LocalCloudControl(workspace: ws.url)
        do {
            let (info, started) = try await control.start(executable: sousExecutablePath(), workspace: ws.url, port: port)
            Console.out("local cloud \(started ? "started" : "already running") at \(info.endpointURL) (pid \(info.pid))\n")
            Console.out("point AWS clients at it with: eval \"$(sous local env)\"\n")
        } catch {
            Console.err("error: \(error)\n")
            throw ExitCode.failure
        }
    }
}

struct LocalStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop the local cloud (its data stays).")
    @OptionGroup var ws: WorkspaceOption

    func run() async throws {
        let stopped = await LocalCloudControl(workspace: ws.url).stop()
        Console.out(stopped ? "local cloud stopped\n" : "local cloud is not running\n")
    }
}

struct LocalStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the local cloud's port, pid, buckets and endpoints.")
    @OptionGroup var ws: WorkspaceOption
    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let control = LocalCloudControl(workspace: ws.url)
        guard let info = await control.runningServer() else {
            if json { Console.out("{\"running\": false}\n") } else { Console.out("local cloud is not running (start it with `sous local start`)\n") }
            throw ExitCode(3)
        }
        let status = try await control.get(info, "/_sous/status")
        let buckets = status["buckets"] as? [[String: Any]] ?? []
        let endpoints = status["endpoints"] as? [[String: Any]] ?? []
        if json {
            let obj: [String: Any] = [
                "running": true, "pid": Int(info.pid), "port": info.port, "url": info.endpointURL, "region": info.region,
                "buckets": buckets, "endpoints": endpoints, "data": control.paths.dataDirectory.path,
                "models": status["models"] ?? [], "endpointConfigs": status["endpointConfigs"] ?? [],
            ]
            let d = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
            Console.out(String(decoding: d, as: UTF8.self) + "\n")
            return
        }
        Console.out("local cloud running at \(info.endpointURL) (pid \(info.pid), region \(info.region))\n")
        Console.out("data: \(control.paths.dataDirectory.path)\n")
        Console.out("buckets: \(buckets.isEmpty ? "none" : "")\n")
        for b in buckets { Console.out("  \(b["name"] as? String ?? "?")  \(b["objects"] as? Int ?? 0) objects\n") }
        let models = status["models"] as? [String] ?? []
        let configs = status["endpointConfigs"] as? [String] ?? []
        Console.out("models: \(models.isEmpty ? "none" : models.joined(separator: ", "))\n")
        Console.out("endpoint configs: \(configs.isEmpty ? "none" : configs.joined(separator: ", "))\n")
        Console.out("endpoints: \(endpoints.isEmpty ? "none" : "")\n")
        for e in endpoints {
            var line = "  \(e["name"] as? String ?? "?")  \(e["status"] as? String ?? "?")"
            if let f = e["failureReason"] as? String { line += "  (\(f))" }
            Console.out(line + "\n")
        }
    }
}

struct LocalLogs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print the local cloud's log.")
    @OptionGroup var ws: WorkspaceOption
    @Option(name: [.customShort("n"), .long], help: "Print only the last N lines.")
    var lines: Int?

    func run() async throws {
        let path = LocalCloudControl(workspace: ws.url).paths.logFile
        guard let d = FileManager.default.contents(atPath: path.path) else {
            Console.out("no log yet (\(path.path))\n")
            return
        }
        var text = String(decoding: d, as: UTF8.self)
        if let n = lines {
            text = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(n + 1).joined(separator: "\n")
        }
        Console.out(text)
    }
}

struct LocalEnv: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env", abstract: "Print `export` lines that point the AWS CLI, boto3 and sous at the local cloud.",
        discussion: "Use: eval \"$(sous local env)\". Starts nothing; run `sous local start` first (or pass --start). Prints the AWS endpoint variables and local credentials, SOUS_LOCAL_CLOUD, and SSL_CERT_FILE (the system's CAs plus the local cloud's certificate, for clients that speak only TLS such as boto3's CRT transfer client) when the certificate exists.")
    @OptionGroup var ws: WorkspaceOption
    @Flag(help: "Start the local cloud when it is not running.")
    var start = false

    func run() async throws {
        let control = LocalCloudControl(workspace: ws.url)
        var info = await control.runningServer()
        if info == nil && start {
            info = try await control.start(executable: sousExecutablePath(), workspace: ws.url, port: nil).0
        }
        guard let info else {
            Console.err("error: the local cloud of \(ws.url.path) is not running; start it with `sous local start`\n")
            throw ExitCode(3)
        }
        Console.out("unset \(LocalCloudControl.unsetVariables.joined(separator: " "))\n")
        for (k, v) in LocalCloudControl.environment(info, try control.credentials()) {
            Console.out("export \(k)=\(shellQuote(v))\n")
        }
        // sous run/plan in that shell price endpoints as local ($0) too.
        Console.out("export \(EndpointCosts.localCloudVariable)=\(shellQuote(info.endpointURL))\n")
        // Clients that speak only TLS (boto3's CRT transfer client) trust the local cloud's certificate through
        // this bundle (the system's CAs plus that certificate, so other HTTPS keeps working).
        if FileManager.default.fileExists(atPath: control.paths.certificateBundle.path) {
            Console.out("export SSL_CERT_FILE=\(shellQuote(control.paths.certificateBundle.path))\n")
        }
    }

    func shellQuote(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "-_./:".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// The server process itself (started detached by `sous local start`).
struct LocalServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the local cloud in the foreground.", shouldDisplay: false)
    @OptionGroup var ws: WorkspaceOption
    @Option(help: "Port on 127.0.0.1 (0: any free port).")
    var port: Int?
    @Option(name: .customLong("preferred-port"), help: "Try this port first, else any free port.")
    var preferredPort: Int?
    @Option(help: "The region the server reports.")
    var region: String = "us-east-1"

    func run() async throws {
        let control = LocalCloudControl(workspace: ws.url)
        let env = ProcessInfo.processInfo.environment
        var config = LocalCloudConfiguration(
            dataDirectory: control.paths.dataDirectory, credentials: try control.credentials(), modelLoader: LlamaTextGenerator.loader)
        config.region = region
        config.hubEnvironment = env
        config.memoryLimit = env["SOUS_LOCAL_MEMORY_LIMIT"].flatMap { UInt64($0) }
        config.endpointStartupDelay = env["SOUS_LOCAL_ENDPOINT_DELAY"].flatMap { Double($0) } ?? 0
        config.log = { line in
            let stamp = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            Console.err("\(stamp) \(line)\n")
        }
        var ports = [port ?? preferredPort ?? 0]
        if port == nil, preferredPort != nil { ports.append(0) }
        let base = config
        let region = region
        let candidates = ports
        let task = Task {
            for (i, p) in candidates.enumerated() {
                var c = base
                c.port = p
                let s = try await LocalCloudServer(configuration: c)
                let ready = ReadyFlag()
                do {
                    try await s.run { bound in
                        ready.set()
                        try? control.record(
                            LocalCloudServerInfo(pid: getpid(), host: "127.0.0.1", port: bound, region: region, startedAt: Date()))
                    }
                    return
                } catch {
                    if ready.isSet || i == ports.count - 1 || Task.isCancelled { throw error }
                    base.log("port \(p) is not available (\(error)); using a free port")
                }
            }
        }
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGTERM)
        sigaddset(&mask, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
        let sources = [SIGTERM, SIGINT].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
        for s in sources {
            s.setEventHandler {
                config.log("stopping (signal)")
                task.cancel()
            }
            s.resume()
        }
        do {
            try await task.value
        } catch is CancellationError {
        } catch {
            config.log("error: \(error)")
            throw ExitCode.failure
        }
        config.log("stopped")
    }
}

/// Set once the server listens.
final class ReadyFlag: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}
