import Foundation
import SousTestSupport
import Testing

/// moto's server (signature checking on, shared by the AWS step tests) and a boto3 peer to look at what
/// `sous` left behind. Each test uses its own temporary folder and workspace; what a test sees in moto is
/// filtered by the `sous:workspace` tag sous puts on everything, so tests do not see each other's resources.
final class MotoForSteps: @unchecked Sendable {
    // @unchecked: the peer's pipes are only used under `lock`.
    let server: TestServerProcess
    let accessKey: String
    let secretKey: String
    private let lock = NSLock()
    private let peerProcess = Process()
    private let peerIn = Pipe()
    private let peerOut = Pipe()
    private var buffer = Data()
    var endpoint: String { "http://127.0.0.1:\(server.port)" }

    /// One moto for the whole test process (starting it costs seconds); it exits with the test process.
    static let shared: Result<MotoForSteps, any Error> = Result { try MotoForSteps() }
    /// A moto without signature checking, for EventBridge Scheduler: moto checks the signature of a body-less
    /// request (GetSchedule, DeleteSchedule) against a body it makes up, so boto3's fail there too.
    static let unsigned: Result<MotoForSteps, any Error> = Result { try MotoForSteps(signed: false) }

    /// A moto of its own (`sous gc --cloud` deletes what no workspace owns, so it must not see other tests' resources).
    init(signed: Bool = true) throws {
        server = try TestServerProcess(
            executable: TestPaths.python,
            arguments: [TestPaths.packageRoot.appendingPathComponent("Tests/python/moto_launcher.py").path] + (signed ? ["--no-auth-count", "3"] : []))
        let creds = try Self.peer(endpoint: "http://127.0.0.1:\(server.port)", ["bootstrap"], env: [:])
        guard let obj = try JSONSerialization.jsonObject(with: Data(creds.utf8)) as? [String: String],
            let key = obj["key"], let secret = obj["secret"]
        else { throw PeerError(description: "bootstrap printed no key: \(creds)") }
        accessKey = key
        secretKey = secret
        // One long-lived boto3 peer answering questions line by line (python + boto3 start slowly).
        peerProcess.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        peerProcess.arguments = [
            TestPaths.python, TestPaths.packageRoot.appendingPathComponent("Tests/python/aws_steps_peer.py").path,
            "http://127.0.0.1:\(server.port)", "serve",
        ]
        var e = ProcessInfo.processInfo.environment
        e["AWS_ACCESS_KEY_ID"] = key
        e["AWS_SECRET_ACCESS_KEY"] = secret
        e["AWS_SESSION_TOKEN"] = nil
        peerProcess.environment = e
        peerProcess.standardInput = peerIn
        peerProcess.standardOutput = peerOut
        try peerProcess.run()
    }

    /// Asks the peer one question (`state`, `delete-endpoint NAME`); returns its JSON answer.
    func ask(_ line: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        peerIn.fileHandleForWriting.write(Data((line + "\n").utf8))
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let answer = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                if answer.hasPrefix("{\"error\"") { throw PeerError(description: "aws_steps_peer.py \(line): \(answer)") }
                return answer
            }
            let chunk = peerOut.fileHandleForReading.availableData
            if chunk.isEmpty { throw PeerError(description: "aws_steps_peer.py exited") }
            buffer.append(chunk)
        }
    }

    /// Runs Tests/python/aws_steps_peer.py and returns its stdout (credentials through the environment).
    static func peer(endpoint: String, _ args: [String], env: [String: String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [TestPaths.python, TestPaths.packageRoot.appendingPathComponent("Tests/python/aws_steps_peer.py").path, endpoint] + args
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw PeerError(description: "aws_steps_peer.py \(args.joined(separator: " ")) failed: \(String(decoding: errData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A helper process failed.
struct PeerError: Error, CustomStringConvertible {
    let description: String
}

/// What moto holds for one workspace, as boto3 sees it.
struct MotoState {
    var endpoints: [String: [String: Any]] = [:]
    var configs: [String: [String: Any]] = [:]
    var models: [String: [String: Any]] = [:]
    /// bucket → key → (sha256, size) for objects tagged with the workspace, or under `prefix` when given.
    var objects: [String: [String: (sha256: String, size: Int)]] = [:]
    var buckets: Set<String> = []
    var uploads: [[String]] = []
}

/// A temporary folder with its own workspace, running the built `sous` against the shared moto.
final class AWSStepsFixture {
    /// nil for tests that need no AWS (the Hub tests).
    let moto: MotoForSteps?
    let dir: URL
    var extraEnv: [String: String] = [:]
    /// A Hub test server the fixture keeps running (``useHub(spec:)``).
    private(set) var hub: HubServerForSteps?
    /// A bucket of this test's own.
    let bucket = "sous-e2e-\(UUID().uuidString.prefix(8).lowercased())"
    static let role = "arn:aws:iam::123456789012:role/sagemaker_execution_role"
    /// The role the scheduler tests give EventBridge Scheduler (made by the peer's bootstrap).
    static let schedulerRole = "arn:aws:iam::123456789012:role/sous-scheduler"

    init(aws: Bool = true, moto: MotoForSteps? = nil) throws {
        self.moto = aws ? try moto ?? MotoForSteps.shared.get() : nil
        dir = try TestPaths.makeTemporaryDirectory("sous-e2e-aws")
    }

    /// Starts a Hub test server serving `spec` and points HF_ENDPOINT at it.
    func useHub(spec: String) throws {
        let h = try HubServerForSteps(spec: spec, in: dir)
        hub = h
        extraEnv["HF_ENDPOINT"] = h.endpoint
    }

    /// The TGI recipes' params for moto: a CPU type moto accepts, the tiny model of `AWSStepsEndToEndTests.hubSpec`
    /// (call ``useHub(spec:)`` first), this test's bucket, no streaming (moto has none).
    var tgiParams: [String] {
        [
            "-p", "instance_type=ml.m5.xlarge", "-p", "poll_interval=0.05", "-p", "stream=false", "-p", "model_id=org/tiny-chat-hf",
            "-p", "bucket=\(bucket)", "-p", "prefix=tgi/org/tiny-chat-hf",
        ]
    }

    /// Asks the boto3 peer (see `MotoForSteps.ask`).
    func ask(_ line: String) throws -> String {
        guard let moto else { throw PeerError(description: "this fixture has no moto") }
        return try moto.ask(line)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    var workspace: String { (dir.appendingPathComponent("workspace").path as NSString).standardizingPath }

    var env: [String: String] {
        var e = [
            "AWS_REGION": "us-east-1", "HOME": dir.path, "XDG_CACHE_HOME": dir.appendingPathComponent("cache").path, "AWS_EC2_METADATA_DISABLED": "true",
            "SOUS_SAGEMAKER_ROLE": Self.role, "HF_TOKEN": "hf_e2e_secret_token", "HF_HUB_CACHE": dir.appendingPathComponent("hf").path,
        ]
        if let moto {
            e["AWS_ENDPOINT_URL"] = moto.endpoint
            e["AWS_ACCESS_KEY_ID"] = moto.accessKey
            e["AWS_SECRET_ACCESS_KEY"] = moto.secretKey
            e["AWS_SESSION_TOKEN"] = ""
        }
        for (k, v) in extraEnv { e[k] = v }
        return e
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// `sous args…` in the folder.
    func sous(_ args: [String], env more: [String: String] = [:]) throws -> SousBinary.Result {
        var e = env
        for (k, v) in more { e[k] = v }
        return try SousBinary.run(args, cwd: dir, env: e)
    }

    static func recipe(_ name: String) -> String { TestPaths.packageRoot.appendingPathComponent("recipes/\(name)").path }

    /// `[2/3] deploy  sagemaker.deploy  cached` lines as step → status word. A step that prints
    /// output gets a header line first and its status (`  ran 0.4 s`) after the output.
    static func statuses(_ out: String) -> [String: String] {
        var m: [String: String] = [:]
        var open: String?
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("[") {
                if parts.count >= 4 {
                    m[String(parts[1])] = String(parts[3])
                    open = nil
                } else if parts.count >= 2 {
                    open = String(parts[1])
                }
            } else if let step = open, line.hasPrefix("  "), let word = parts.first, ["ran", "failed"].contains(word) {
                m[step] = String(word)
                open = nil
            }
        }
        return m
    }

    /// The recorded outputs of a step (state.json).
    func outputs(_ recipe: String, _ step: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(workspace)/\(recipe)/state.json"))
        let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let steps = obj?["steps"] as? [String: Any]
        return (steps?[step] as? [String: Any])?["outputs"] as? [String: Any] ?? [:]
    }

    /// Everything in moto that belongs to this workspace (by tag), plus objects under `prefix` in `bucket`.
    func state(bucket: String? = nil, prefix: String? = nil) throws -> MotoState {
        let text = try ask("state")
        let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        func mine(_ d: Any?) -> Bool { ((d as? [String: Any])?["tags"] as? [String: String])?["sous:workspace"] == workspace }
        var s = MotoState()
        for (k, v) in obj["endpoints"] as? [String: Any] ?? [:] where mine(v) { s.endpoints[k] = v as? [String: Any] }
        for (k, v) in obj["configs"] as? [String: Any] ?? [:] where mine(v) { s.configs[k] = v as? [String: Any] }
        for (k, v) in obj["models"] as? [String: Any] ?? [:] where mine(v) { s.models[k] = v as? [String: Any] }
        for (b, objects) in obj["buckets"] as? [String: [String: Any]] ?? [:] {
            s.buckets.insert(b)
            for (key, o) in objects {
                let underPrefix = bucket == b && prefix.map { key.hasPrefix($0) } == true
                guard mine(o) || underPrefix, let d = o as? [String: Any] else { continue }
                s.objects[b, default: [:]][key] = (d["sha256"] as? String ?? "", d["size"] as? Int ?? -1)
            }
        }
        s.uploads = obj["uploads"] as? [[String]] ?? []
        return s
    }

    /// Every file under `path` (following links), as relative path → sha256 hex.
    static func digests(_ path: String) throws -> [String: String] {
        var out: [String: String] = [:]
        let root = URL(fileURLWithPath: path).resolvingSymlinksInPath()
        let e = FileManager.default.enumerator(atPath: root.path)
        while let rel = e?.nextObject() as? String {
            var isDir: ObjCBool = false
            let full = root.appendingPathComponent(rel).path
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue else { continue }
            out[rel] = try sha256Hex(full)
        }
        return out
    }

    static func sha256Hex(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha256sum", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(String(decoding: data, as: UTF8.self).prefix(64))
    }
}

/// A running Tests/python/hub_server.py serving `spec`.
final class HubServerForSteps {
    let server: TestServerProcess
    var endpoint: String { "http://127.0.0.1:\(server.port)" }

    init(spec: String, in dir: URL, name: String = "hub-spec.json") throws {
        let url = dir.appendingPathComponent(name)
        try Data(spec.utf8).write(to: url)
        server = try TestServerProcess(
            executable: TestPaths.python,
            arguments: [TestPaths.packageRoot.appendingPathComponent("Tests/python/hub_server.py").path, url.path])
    }

    deinit { server.stop() }
}
