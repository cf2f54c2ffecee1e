import Foundation
import SousBasics
import SousTestSupport
import Testing

/// The LMI recipe on the local cloud with a fault-injecting proxy (Tests/python/fault_proxy.py) between sous
/// and the cloud: connection resets, 500/503s, throttling, slow and truncated answers at seeded random points,
/// and `kill -9` of sous at every cloud step's boundary and in the middle of the upload and of the wait.
///
/// Short form by default (it runs in scripts/test.sh); `SOUS_FAULT_SEEDS=20 SOUS_FAULT_RATE=0.2 scripts/test.sh
/// --filter FaultInjectionTests` is the long one. Each test prints a `FAULT SUITE` line with its figures.
@Suite("fault injection: the LMI recipe through a faulty network", .serialized)
struct FaultInjectionTests {
    static let recipe = ShippedRecipeRun.root.appendingPathComponent("recipes/llama2-7b-lmi.yaml").path
    static let canary = "hf_CANARYfaultsuite0123456789abcdefXYZ"
    static var seeds: Int { Int(ProcessInfo.processInfo.environment["SOUS_FAULT_SEEDS"] ?? "") ?? 3 }
    static var rate: Double { Double(ProcessInfo.processInfo.environment["SOUS_FAULT_RATE"] ?? "") ?? 0.2 }

    /// One workspace with its own local cloud and a proxy in front of it.
    final class Rig {
        let run: ShippedRecipeRun
        let proxy: TestServerProcess
        let env: [String: String]
        let logPath: String
        let pidPath: String
        let secretKey: String

        init(seed: Int, rate: Double, kill: [String: Any]? = nil, endpointDelay: Double = 0) throws {
            run = try ShippedRecipeRun()
            let delay = ["SOUS_LOCAL_ENDPOINT_DELAY": String(endpointDelay)]
            let started = try run.sous(["local", "start"], env: delay)
            try #require(started.status == 0, "\(started.stderr)")
            let printed = try run.sous(["local", "env"])
            var local: [String: String] = [:]
            for line in printed.stdout.split(separator: "\n") where line.hasPrefix("export ") {
                let kv = line.dropFirst(7).split(separator: "=", maxSplits: 1)
                if kv.count == 2 { local[String(kv[0])] = String(kv[1]) }
            }
            let upstream = try #require(local["AWS_ENDPOINT_URL"], "\(printed.stdout)")
            secretKey = local["AWS_SECRET_ACCESS_KEY"] ?? ""
            logPath = run.dir.appendingPathComponent("proxy.log").path
            pidPath = run.dir.appendingPathComponent("sous.pid").path
            var config: [String: Any] = ["seed": seed, "rate": rate, "log": logPath]
            if var k = kill {
                k["pidfile"] = pidPath
                config["kill"] = k
            }
            let configPath = run.dir.appendingPathComponent("proxy.json")
            try JSONSerialization.data(withJSONObject: config).write(to: configPath)
            proxy = try TestServerProcess(
                executable: "python3",
                arguments: [TestPaths.packageRoot.appendingPathComponent("Tests/python/fault_proxy.py").path, upstream, configPath.path])
            let url = "http://127.0.0.1:\(proxy.port)"
            var e = run.env.merging(local) { $1 }
            for k in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SAGEMAKER", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_ENDPOINT_URL_STS"] {
                e[k] = url
            }
            e["SOUS_SAGEMAKER_ROLE"] = "arn:aws:iam::000000000000:role/sous-local-execution-role"
            e["AWS_EC2_METADATA_DISABLED"] = "true"
            e["HF_TOKEN"] = FaultInjectionTests.canary
            env = e
        }

        var runArgs: [String] {
            ["run", FaultInjectionTests.recipe, "-p", "model_id=\(ShippedRecipeRun.bundledModel)", "--keep", "-y"] + run.args
        }

        /// Runs sous through the proxy; its pid is where the proxy's kill point finds it.
        func sous(_ args: [String]) throws -> SousBinary.Result {
            let p = try SousBinary.start(args, cwd: run.dir, env: env)
            try String(p.pid).write(toFile: pidPath, atomically: true, encoding: .utf8)
            return p.wait()
        }

        /// Runs until it succeeds (at most `attempts` times); every failure must be a clear error, not a crash.
        func untilSuccess(_ args: [String], attempts: Int = 4) throws -> (result: SousBinary.Result, attempts: Int) {
            var last = try sous(args)
            for attempt in 1...attempts {
                if attempt > 1 { last = try sous(args) }
                if last.status == 0 { return (last, attempt) }
                #expect(last.status == 1 || last.status == 2, "exit \(last.status): \(String(last.stderr.suffix(2000)))")
                #expect(!last.stderr.contains("Fatal error") && !last.stderr.contains("Stack dump"), "\(last.stderr.suffix(2000))")
                #expect(last.stderr.contains("error"), "a failure says what failed: \(last.stderr.suffix(800))")
            }
            return (last, attempts)
        }

        /// Proxy log entries.
        func log() -> [[String: Any]] {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        /// The outputs that do not depend on timing: what was written, packed and uploaded where.
        func stableOutputs() throws -> [String: String] {
            let state = run.workspace.appendingPathComponent("llama2-7b-lmi/state.json")
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: state)) as? [String: Any])
            let steps = try #require(doc["steps"] as? [String: [String: Any]])
            func out(_ step: String, _ key: String) -> String {
                let v = (steps[step]?["outputs"] as? [String: Any])?[key]
                if let a = v as? [Any] { return a.map { "\($0)" }.joined(separator: ",") }
                return v.map { "\($0)" } ?? "-"
            }
            return [
                "download.files": out("download", "files"), "download.commit": out("download", "commit"),
                "properties.sha256": out("properties", "sha256"), "package.sha256": out("package", "sha256"),
                "upload_weights.keys": out("upload_weights", "keys"), "upload_code.key": out("upload_code", "key"),
                "image": out("image", "image"),
            ]
        }

        /// What the local cloud holds now (its server keeps running: `ShippedRecipeRun.leftovers` stops it).
        func resources() throws -> (endpoints: Int, models: Int, configs: Int, objects: Int) {
            let r = try run.sous(["local", "status", "--json"])
            let s = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
            let objects = (s["buckets"] as? [[String: Any]] ?? []).reduce(0) { $0 + ($1["objects"] as? Int ?? 0) }
            return (
                (s["endpoints"] as? [Any] ?? []).count, (s["models"] as? [Any] ?? []).count,
                (s["endpointConfigs"] as? [Any] ?? []).count, objects
            )
        }

        func answers() throws -> [String] {
            let state = run.workspace.appendingPathComponent("llama2-7b-lmi/state.json")
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: state)) as? [String: Any])
            let steps = try #require(doc["steps"] as? [String: [String: Any]])
            return ["ask_1", "ask_2"].map { ((steps[$0]?["outputs"] as? [String: Any])?["text"] as? String) ?? "" }
        }

        /// How many times the canary token, in any of its forms, appears in the workspace, the outputs given,
        /// and the proxy's log (which sees every request body).
        func secretsFound(in outputs: [String]) -> Int {
            var forms = [FaultInjectionTests.canary]
            let bytes = Array(FaultInjectionTests.canary.utf8)
            for offset in 0..<3 {
                let b64 = Data(Array(repeating: UInt8(ascii: "x"), count: offset) + bytes).base64EncodedString()
                forms.append(String(b64.dropFirst(offset == 0 ? 0 : 4).dropLast(4)))
            }
            var found = 0
            var texts = outputs
            if let files = FileManager.default.enumerator(atPath: run.dir.path) {
                for case let rel as String in files {
                    let path = run.dir.appendingPathComponent(rel).path
                    guard let st = FileStatus(path, followLinks: false), st.isFile, st.size <= 16 << 20 else { continue }
                    if let d = FileManager.default.contents(atPath: path) { texts.append(String(decoding: d, as: UTF8.self)) }
                }
            }
            for t in texts { for f in forms where !f.isEmpty { found += t.components(separatedBy: f).count - 1 } }
            return found
        }

        func close() {
            proxy.stop()
            run.remove()
        }
    }

    @Test("under faults at seeded random points the recipe completes, with the same outputs, one of each resource, no secret written")
    func seededFaults() throws {
        let baseline = try Rig(seed: 0, rate: 0)
        defer { baseline.close() }
        let clean = try baseline.untilSuccess(baseline.runArgs, attempts: 1)
        try #require(clean.result.status == 0, "\(clean.result.stderr)")
        let expected = try baseline.stableOutputs()
        let expectedObjects = try baseline.resources().objects

        var faults: [String: Int] = [:]
        var completed = 0
        var attemptsTotal = 0
        var duplicated = 0
        var secrets = 0
        for seed in 1...Self.seeds {
            let rig = try Rig(seed: seed, rate: Self.rate)
            defer { rig.close() }
            let (result, attempts) = try rig.untilSuccess(rig.runArgs)
            attemptsTotal += attempts
            #expect(result.status == 0, "seed \(seed): \(result.stderr.suffix(2000))")
            for e in rig.log() { if let f = e["fault"] as? String { faults[f, default: 0] += 1 } }
            guard result.status == 0 else { continue }
            completed += 1
            #expect(try rig.stableOutputs() == expected, "seed \(seed)")
            #expect(try rig.answers().allSatisfy { !$0.isEmpty }, "seed \(seed)")
            let left = try rig.resources()
            let extra = max(0, left.endpoints - 1) + max(0, left.models - 1) + max(0, left.configs - 1)
                + max(0, left.objects - expectedObjects)
            duplicated += extra
            #expect(left.endpoints == 1 && left.models == 1 && left.configs == 1, "seed \(seed): \(left)")
            #expect(left.objects == expectedObjects, "seed \(seed): \(left.objects) objects, \(expectedObjects) without faults")
            let destroyed = try rig.untilSuccess(["destroy", Self.recipe, "-y"] + rig.run.args)
            #expect(destroyed.result.status == 0, "seed \(seed): \(destroyed.result.stderr.suffix(1500))")
            let after = try rig.resources()
            #expect(after.endpoints == 0 && after.models == 0 && after.configs == 0, "seed \(seed): \(after)")
            secrets += rig.secretsFound(in: [result.stdout, result.stderr, destroyed.result.stdout, destroyed.result.stderr])
        }
        let injected = faults.values.reduce(0, +)
        print(
            "FAULT SUITE seeds=\(Self.seeds) rate=\(Self.rate) faults injected=\(injected) \(faults.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) runs completed=\(completed)/\(Self.seeds) attempts=\(attemptsTotal) resources duplicated=\(duplicated) secrets found=\(secrets)")
        #expect(injected > 0, "the proxy injected no fault: the suite checked nothing")
        #expect(completed == Self.seeds)
        #expect(duplicated == 0)
        #expect(secrets == 0)
    }

    /// Kill points: the first request of each cloud step (before it is sent, and after the cloud did it but
    /// before sous heard), the middle of the weights' upload, and the middle of the wait for InService.
    static let killPoints: [(op: String, nth: Int, when: String)] = [
        ("CreateBucket", 1, "after"), ("PutObject", 1, "before"), ("PutObject", 3, "after"),
        ("CreateModel", 1, "before"), ("CreateModel", 1, "after"), ("CreateEndpointConfig", 1, "after"),
        ("CreateEndpoint", 1, "before"), ("CreateEndpoint", 1, "after"), ("DescribeEndpoint", 2, "before"),
        ("InvokeEndpointWithResponseStream", 1, "after"),
    ]

    @Test("kill -9 at every cloud step boundary and mid-upload and mid-wait: the rerun completes with one of each resource")
    func killPointsResume() throws {
        var killed = 0
        var completed = 0
        var duplicated = 0
        for point in Self.killPoints {
            let rig = try Rig(
                seed: 0, rate: 0, kill: ["op": point.op, "nth": point.nth, "when": point.when],
                endpointDelay: point.op == "DescribeEndpoint" ? 3 : 0)
            defer { rig.close() }
            let first = try rig.sous(rig.runArgs)
            let hit = rig.log().contains { $0["kill"] as? Bool == true }
            #expect(hit, "\(point): the kill point was never reached")
            #expect(first.status != 0, "\(point): sous was not killed")
            if hit { killed += 1 }
            // The proxy kills only once (the nth request); the rerun goes through.
            let (rerun, _) = try rig.untilSuccess(rig.runArgs, attempts: 2)
            #expect(rerun.status == 0, "\(point): \(rerun.stderr.suffix(2000))")
            guard rerun.status == 0 else { continue }
            completed += 1
            let left = try rig.resources()
            duplicated += max(0, left.endpoints - 1) + max(0, left.models - 1) + max(0, left.configs - 1)
            #expect(left.endpoints == 1 && left.models == 1 && left.configs == 1, "\(point): \(left)")
        }
        print("FAULT SUITE kill points=\(Self.killPoints.count) killed=\(killed) reruns completed=\(completed) resources duplicated=\(duplicated)")
        #expect(completed == Self.killPoints.count)
        #expect(duplicated == 0)
    }
}
