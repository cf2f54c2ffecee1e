public import Foundation
import SousAWS
import SousHTTP

/// What `server.json` records about a running local cloud.
public struct LocalCloudServerInfo: Codable, Sendable, Equatable {
    public var pid: Int32
    public var host: String
    public var port: Int
    public var region: String
    public var startedAt: Date

    public init(pid: Int32, host: String, port: Int, region: String, startedAt: Date) {
        self.pid = pid
        self.host = host
        self.port = port
        self.region = region
        self.startedAt = startedAt
    }

    /// `http://127.0.0.1:PORT`
    public var endpointURL: String { "http://\(host):\(port)" }
}

/// Errors of `sous local …`.
public struct LocalCloudError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Starts, finds and stops the local cloud of one workspace (the server itself runs as the detached
/// process `sous local serve`), and produces the environment that points AWS clients at it.
public struct LocalCloudControl: Sendable {
    public let paths: LocalCloudPaths

    public init(workspace: URL) { paths = LocalCloudPaths(workspace: workspace) }

    /// The workspace's local credentials, created (mode 0600) on first use.
    public func credentials() throws -> LocalCloudCredentials {
        let fm = FileManager.default
        if let d = try? Data(contentsOf: paths.credentialsFile), let c = try? JSONDecoder().decode(LocalCloudCredentials.self, from: d) {
            return c
        }
        try fm.createDirectory(at: paths.root, withIntermediateDirectories: true)
        let c = LocalCloudCredentials.generate()
        let tmp = paths.root.appendingPathComponent(".credentials.\(getpid())")
        guard fm.createFile(atPath: tmp.path, contents: try JSONEncoder().encode(c), attributes: [.posixPermissions: 0o600]) else {
            throw LocalCloudError("Could not write \(paths.credentialsFile.path); check the workspace is writable.")
        }
        _ = rename(tmp.path, paths.credentialsFile.path)
        return c
    }

    /// `server.json`, whether or not that server still runs.
    public func recordedServer() -> LocalCloudServerInfo? {
        guard let d = try? Data(contentsOf: paths.serverFile) else { return nil }
        let dec = JSONDecoder()
        dec.dateDecodingStrategy = .iso8601
        return try? dec.decode(LocalCloudServerInfo.self, from: d)
    }

    /// Records the running server (written by `sous local serve` once it listens).
    public func record(_ info: LocalCloudServerInfo) throws {
        try FileManager.default.createDirectory(at: paths.root, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.dateEncodingStrategy = .iso8601
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(info).write(to: paths.serverFile, options: .atomic)
    }

    /// The running server: recorded, its process alive, and answering `/_sous/health` with its pid (to a request
    /// signed with this workspace's credentials).
    public func runningServer() async -> LocalCloudServerInfo? {
        guard let info = recordedServer(), kill(info.pid, 0) == 0 || errno == EPERM else { return nil }
        guard let health = try? await get(info, "/_sous/health"), (health["pid"] as? Int).map(Int32.init) == info.pid else { return nil }
        return info
    }

    /// GETs an internal route of the server, signed with the workspace's credentials (SigV4, service `sous`, as
    /// every route of the local cloud requires), and parses its JSON.
    /// - Parameter timeout: seconds for the whole request (connecting: at most 2).
    /// - Throws: `LocalCloudError` when the server cannot be reached or refuses the request (with its status and
    ///   error code), or the workspace has no credentials.
    public func get(_ info: LocalCloudServerInfo, _ path: String, timeout: Int = 5) async throws -> [String: Any] {
        guard let url = URL(string: info.endpointURL + path), let host = url.host else {
            throw LocalCloudError("\(info.endpointURL + path) is not a URL.")
        }
        guard let d = try? Data(contentsOf: paths.credentialsFile), let creds = try? JSONDecoder().decode(LocalCloudCredentials.self, from: d) else {
            throw LocalCloudError("\(paths.credentialsFile.path) is missing or unreadable: the local cloud's credentials are needed to ask it.")
        }
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey), region: info.region,
            service: "sous")
        let signed = signer.sign(
            SigV4Request(method: "GET", path: path, headers: [("Host", "\(host):\(info.port)")], payloadHash: SigV4Request.emptyPayloadHash),
            date: Date())
        var req = HTTPRequest(url: url, headers: HTTPHeaders(signed.request.headers.map { ($0.name, $0.value) }))
        req.timeouts.connect = .seconds(2)
        req.timeouts.total = .seconds(timeout)
        let r: HTTPResponse
        do {
            r = try await HTTPClient.shared.send(req)
        } catch {
            throw LocalCloudError("The local cloud at \(info.endpointURL) did not answer \(path): \(error)")
        }
        let object = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any]
        guard r.status == 200, let object else {
            let code = r.headers["x-amzn-ErrorType"] ?? "no error code"
            let message = object?["message"] as? String ?? String(decoding: r.body.prefix(200), as: UTF8.self)
            throw LocalCloudError("The local cloud at \(info.endpointURL) refused \(path): HTTP \(r.status), \(code): \(message)")
        }
        return object
    }

    /// Starts `executable local serve` detached (own session, output to `logs/server.log`) unless a server
    /// already runs, then waits until it answers.
    /// - Returns: the server and whether this call started it.
    public func start(executable: String, workspace: URL, port: Int?, timeout: TimeInterval = 60) async throws -> (LocalCloudServerInfo, Bool) {
        if let running = await runningServer() { return (running, false) }
        let fm = FileManager.default
        // One starter at a time per workspace (two `sous run --local` at once must not start two servers).
        try fm.createDirectory(at: paths.root, withIntermediateDirectories: true)
        let lockFD = open(paths.root.appendingPathComponent("start.lock").path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw LocalCloudError("Could not create \(paths.root.path)/start.lock; check the workspace is writable.") }
        defer { close(lockFD) }
        let lockDeadline = Date().addingTimeInterval(timeout)
        while flock(lockFD, LOCK_EX | LOCK_NB) != 0 {
            guard Date() < lockDeadline else { throw LocalCloudError("Another sous is starting the local cloud of this workspace.") }
            try await Task.sleep(for: .milliseconds(50))  // poll the start lock until the deadline
        }
        defer { flock(lockFD, LOCK_UN) }
        if let running = await runningServer() { return (running, false) }
        try fm.createDirectory(at: paths.logsDirectory, withIntermediateDirectories: true)
        _ = try credentials()
        let previous = recordedServer()
        try? fm.removeItem(at: paths.serverFile)
        // server.json is kept after a stop so the next start can reuse the port.
        if !fm.fileExists(atPath: paths.logFile.path) { _ = fm.createFile(atPath: paths.logFile.path, contents: nil) }
        guard let log = FileHandle(forWritingAtPath: paths.logFile.path) else {
            throw LocalCloudError("Could not open \(paths.logFile.path) for the local cloud's log.")
        }
        defer { try? log.close() }
        log.seekToEndOfFile()
        var args = ["local", "serve", "--workspace", workspace.path]
        if let port { args += ["--port", String(port)] } else if let p = previous?.port { args += ["--preferred-port", String(p)] }
        let p = Process()
        if fm.isExecutableFile(atPath: "/usr/bin/setsid") {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
            p.arguments = [executable] + args
        } else {
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = args
        }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = log
        p.standardError = log
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let info = recordedServer(), (try? await get(info, "/_sous/health")) != nil { return (info, true) }
            if !p.isRunning && recordedServer() == nil {
                throw LocalCloudError("The local cloud exited during start-up (status \(p.terminationStatus)); see \(paths.logFile.path).")
            }
            try await Task.sleep(for: .milliseconds(50))  // poll until the server answers (deadline above)
        }
        throw LocalCloudError("The local cloud did not answer within \(Int(timeout)) s; see \(paths.logFile.path).")
    }

    /// Stops the running server (SIGTERM, then SIGKILL after `grace` seconds). Returns false when none ran.
    public func stop(grace: TimeInterval = 5) async -> Bool {
        guard let info = recordedServer(), kill(info.pid, 0) == 0 else {
            return false
        }
        // Only signal a process that is our server (it answers health with this pid).
        guard await runningServer() != nil else {
            return false
        }
        kill(info.pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline, kill(info.pid, 0) == 0 {
            try? await Task.sleep(for: .milliseconds(50))  // poll for exit until the grace deadline
        }
        if kill(info.pid, 0) == 0 { kill(info.pid, SIGKILL) }
        return true
    }

    /// The variables that point the AWS CLI, boto3 and sous at the server, in print order.
    public static func environment(_ info: LocalCloudServerInfo, _ creds: LocalCloudCredentials) -> [(String, String)] {
        let url = info.endpointURL
        return [
            ("AWS_ENDPOINT_URL", url), ("AWS_ENDPOINT_URL_S3", url), ("AWS_ENDPOINT_URL_SAGEMAKER", url),
            ("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", url), ("AWS_ENDPOINT_URL_STS", url), ("AWS_REGION", info.region),
            ("AWS_DEFAULT_REGION", info.region), ("AWS_ACCESS_KEY_ID", creds.accessKeyId),
            ("AWS_SECRET_ACCESS_KEY", creds.secretAccessKey),
        ]
    }

    /// Variables to remove so a profile or session token from the user's AWS setup does not interfere.
    public static let unsetVariables = ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"]
}
