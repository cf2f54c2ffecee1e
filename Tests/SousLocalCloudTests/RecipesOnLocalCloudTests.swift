import Foundation
import SousTestSupport
import Testing

/// A workspace for running the shipped recipes with the built `sous` on the local cloud, with the Hub
/// unreachable (HF_ENDPOINT is a closed port, so any Hub call fails): everything comes from the repository.
struct ShippedRecipeRun {
    let dir: URL
    let workspace: URL
    let env: [String: String]
    static let root = TestPaths.packageRoot
    static let bundledModel = root.appendingPathComponent("recipes/models/stories260K").path

    init() throws {
        dir = try TestPaths.makeTemporaryDirectory("sous-recipes")
        workspace = dir.appendingPathComponent("workspace")
        env = [
            "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_CACHE": dir.appendingPathComponent("hf").path,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "HF_TOKEN": "", "NO_COLOR": "1",
        ]
    }

    var args: [String] { ["--workspace", workspace.path] }

    func sous(_ arguments: [String], env more: [String: String] = [:]) throws -> SousBinary.Result {
        try SousBinary.run(arguments + args, cwd: dir, env: env.merging(more) { $1 })
    }

    /// What the local cloud's data still holds (the server is started to read it, then stopped).
    func leftovers() throws -> (endpoints: [String], models: [String], configs: [String], objects: Int) {
        _ = try sous(["local", "start"])
        defer { _ = try? sous(["local", "stop"]) }
        let r = try sous(["local", "status", "--json"])
        let s = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
        let endpoints = (s["endpoints"] as? [[String: Any]] ?? []).map { $0["name"] as? String ?? "?" }
        let objects = (s["buckets"] as? [[String: Any]] ?? []).reduce(0) { $0 + ($1["objects"] as? Int ?? 0) }
        return (endpoints, s["models"] as? [String] ?? [], s["endpointConfigs"] as? [String] ?? [], objects)
    }

    /// True when a local cloud server of this workspace answers (`sous local status --json` says `running`).
    func serverRunning() throws -> Bool {
        let r = try sous(["local", "status", "--json"])
        let status = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        return try #require(status["running"] as? Bool, "\(r.stdout)")
    }

    func remove() {
        _ = try? sous(["local", "stop"])
        try? FileManager.default.removeItem(at: dir)
    }

    /// `[3/12] download  hf.snapshot  cached` → ["download": "cached"]; a step that streams output prints
    /// its header, the output, then `  ran 0.3 s` on a line of its own.
    static func statuses(_ out: String) -> [String: String] {
        var m: [String: String] = [:]
        var streaming: String?
        for line in out.split(separator: "\n") {
            let f = line.split(separator: " ")
            if line.hasPrefix("["), f.count >= 3 {
                streaming = f.count == 3 ? String(f[1]) : nil
                if f.count >= 4 { m[String(f[1])] = String(f[3]) }
            } else if let s = streaming, line.hasPrefix("  "), let word = f.first, ["ran", "failed"].contains(word) {
                m[s] = String(word)
                streaming = nil
            }
        }
        return m
    }
}

/// Every recipe in recipes/ runs end to end on the local cloud with the bundled tiny model, offline,
/// and its clean-up leaves no endpoint, endpoint config or model behind.
@Suite("recipes/ on the local cloud", .serialized)
struct RecipesOnLocalCloudTests {
    static var recipes: [String] {
        let dir = ShippedRecipeRun.root.appendingPathComponent("recipes")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test("sous validate passes for every shipped recipe", arguments: recipes)
    func validates(_ name: String) throws {
        let run = try ShippedRecipeRun()
        defer { run.remove() }
        let r = try run.sous(["validate", ShippedRecipeRun.root.appendingPathComponent("recipes/\(name)").path])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
    }

    @Test(
        "each notebook recipe runs with --local -p model_id=<the bundled model>: both asks stream, nothing is left running",
        arguments: recipes.filter { $0.hasPrefix("llama2-") && $0.contains("b-") })
    func notebookRecipeRuns(_ name: String) throws {
        let run = try ShippedRecipeRun()
        defer { run.remove() }
        let recipe = ShippedRecipeRun.root.appendingPathComponent("recipes/\(name)").path
        let r = try run.sous([
            "run", "--local", recipe, "-p", "model_id=\(ShippedRecipeRun.bundledModel)", "-p", "poll_interval=0.1",
            "-p", "max_new_tokens=64",
        ])
        #expect(r.status == 0, "\(name):\n\(r.stdout)\n\(r.stderr)")
        let statuses = ShippedRecipeRun.statuses(r.stdout)
        #expect(statuses["ask_1"] == "ran" && statuses["ask_2"] == "ran" && statuses["cleanup"] == "ran", "\(statuses)")
        #expect(r.stderr.contains("answer   ask_1: ") && r.stderr.contains("answer   ask_2: "), "\(r.stderr)")
        #expect(r.stderr.contains("cleanup  done: no endpoint of this recipe is running"), "\(r.stderr)")
        // The run started the local cloud, so it stopped it again.
        #expect(r.stderr.contains("local cloud stopped"), "\(r.stderr)")
        #expect(try !run.serverRunning())
        let left = try run.leftovers()
        #expect(left.endpoints.isEmpty && left.models.isEmpty && left.configs.isEmpty, "\(name): \(left)")
        if name.contains("lmi") { #expect(left.objects == 0, "\(name): the clean-up deletes every object under the prefix") }
    }

    @Test("the quickstart: the whole path offline; a rerun skips the download and the upload and streams a fresh answer")
    func quickstart() throws {
        let run = try ShippedRecipeRun()
        defer { run.remove() }
        let recipe = ShippedRecipeRun.root.appendingPathComponent("recipes/quickstart.yaml").path
        let first = try run.sous(["run", recipe])
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        let s1 = ShippedRecipeRun.statuses(first.stdout)
        let all = ["bucket", "download", "upload_weights", "properties", "package", "upload_code", "image", "model", "config", "endpoint", "ask_1", "cleanup"]
        #expect(all.allSatisfy { s1[$0] == "ran" }, "\(s1)")
        #expect(first.stderr.contains("local cloud started") && first.stderr.contains("local cloud stopped"), "\(first.stderr)")
        for line in ["created  bucket sagemaker-us-east-1-", "endpoint quickstart-lmi-streaming-", "(removed by the clean-up)", "answer   ask_1: ",
            "cleanup  done: no endpoint of this recipe is running on the local cloud.", "next     a real model: sous run \(recipe) -p model_id=HuggingFaceTB/SmolLM2-135M-Instruct",
            "cost     local: $0 · on AWS ml.g5.2xlarge × 1 would be billed ≈ $1.515/h (estimate) from creation to clean-up",
        ] {
            #expect(first.stderr.contains(line), "missing '\(line)' in:\n\(first.stderr)")
        }
        // The preflight ran first, on the local cloud's terms.
        for line in [
            "[1/13] preflight  preflight\n✓ credentials: account 000000000000", "✓ role: arn:aws:iam::000000000000:role/sous-local-execution-role (the local cloud accepts any role)",
            "is a local folder: nothing to ask the Hub", "✓ quota: the local cloud has no quotas",
        ] {
            #expect(first.stdout.contains(line), "missing '\(line)' in:\n\(first.stdout)")
        }
        // The snapshot came from the bundled folder through the Hugging Face cache.
        let cache = run.dir.appendingPathComponent("hf/models--local--stories260K/snapshots").path
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).count == 1)
        let answer1 = Self.answer(first.stdout)
        #expect(answer1.count > 40, "\(first.stdout)")

        let second = try run.sous(["run", recipe])
        #expect(second.status == 0, "\(second.stdout)\n\(second.stderr)")
        let s2 = ShippedRecipeRun.statuses(second.stdout)
        for step in ["download", "upload_weights", "package", "upload_code"] { #expect(s2[step] == "cached", "\(step): \(s2)") }
        for step in ["model", "config", "endpoint", "ask_1", "cleanup"] { #expect(s2[step] == "ran", "\(step): \(s2)") }
        #expect(Self.answer(second.stdout).count > 40, "\(second.stdout)")
        #expect(try !run.serverRunning())
        let left = try run.leftovers()
        #expect(left.endpoints.isEmpty && left.models.isEmpty && left.configs.isEmpty, "\(left)")
        #expect(left.objects == 5, "the weights (4 files) and model.tar.gz stay for the next run: \(left)")
        // destroy removes what stays.
        let destroy = try run.sous(["destroy", recipe, "--yes"])
        #expect(destroy.status == 0, "\(destroy.stderr)")
        #expect(try run.leftovers().objects == 0)
    }

    @Test("kill -9 of the local cloud while llama2-7b-tgi's endpoint is Creating: the rerun adopts the endpoint and completes")
    func killDuringCreation() throws {
        let run = try ShippedRecipeRun()
        defer { run.remove() }
        let recipe = ShippedRecipeRun.root.appendingPathComponent("recipes/llama2-7b-tgi.yaml").path
        let args = ["run", "--local", recipe, "-p", "model_id=\(ShippedRecipeRun.bundledModel)", "-p", "poll_interval=0.1", "-p", "max_new_tokens=16"] + run.args
        let first = try SousBinary.start(args, cwd: run.dir, env: run.env.merging(["SOUS_LOCAL_ENDPOINT_DELAY": "60"]) { $1 })
        let data = run.workspace.appendingPathComponent(".sous/local-cloud")
        let endpoints = data.appendingPathComponent("data/sagemaker/endpoints")
        #expect(waitUntil(timeout: 60) { ((try? FileManager.default.contentsOfDirectory(atPath: endpoints.path)) ?? []).contains { $0.hasSuffix(".json") } })
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: data.appendingPathComponent("server.json"))) as? [String: Any]
        let pid = Int32(try #require(info?["pid"] as? Int))
        #expect(kill(pid, SIGKILL) == 0)
        let r1 = first.wait()
        #expect(r1.status != 0)
        let r2 = try SousBinary.run(args + ["-v"], cwd: run.dir, env: run.env)
        #expect(r2.status == 0, "\(r2.stdout)\n\(r2.stderr)")
        #expect((r2.stdout + r2.stderr).contains("adopted"), "\(r2.stdout)\n\(r2.stderr)")
        let left = try run.leftovers()
        #expect(left.endpoints.isEmpty && left.models.isEmpty && left.configs.isEmpty, "\(left)")
    }

    /// The text streamed between the ask step's header and its `ran` line.
    static func answer(_ stdout: String) -> String {
        guard let start = stdout.range(of: "ask_1  sagemaker.invoke-stream\n") else { return "" }
        let rest = stdout[start.upperBound...]
        return String(rest[..<(rest.range(of: "  ran ")?.lowerBound ?? rest.endIndex)])
    }
}
