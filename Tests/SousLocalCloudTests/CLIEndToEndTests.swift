import Foundation
import SousTestSupport
import Testing

/// A workspace, a loopback Hub serving the real stories260K snapshot, and a recipe whose shell steps
/// drive boto3 (upload, deploy a TGI endpoint, stream, clean up) against whatever cloud `sous` points them at.
final class RecipeFixture {
    let dir: URL
    let workspace: URL
    let hub: TestServerProcess
    let recipe: URL
    let env: [String: String]
    static let model = TestPaths.shared("models/stories260K-hf")

    init(local: Bool, bigFileMiB: Int = 12, holdUpload: Bool = false) throws {
        dir = try TestPaths.makeTemporaryDirectory("sous-local-e2e")
        workspace = dir.appendingPathComponent("workspace")
        let hubScript = TestPaths.packageRoot.appendingPathComponent("Tests/python/localcloud_hub.py").path
        hub = try TestServerProcess(executable: TestPaths.python, arguments: [hubScript, "local/stories260K", Self.model!.path])
        env = [
            "HF_ENDPOINT": "http://127.0.0.1:\(hub.port)", "HF_HUB_CACHE": dir.appendingPathComponent("hf").path,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        ]
        let big = dir.appendingPathComponent("big.bin")
        let urandom = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        try urandom.readData(ofLength: bigFileMiB << 20).write(to: big)
        try urandom.close()
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/localcloud_steps.py").path
        let awsEnv = """
            {AWS_ENDPOINT_URL: "${{ env.AWS_ENDPOINT_URL }}", AWS_ACCESS_KEY_ID: "${{ env.AWS_ACCESS_KEY_ID }}", \
            AWS_SECRET_ACCESS_KEY: "${{ secrets.aws_secret }}", AWS_DEFAULT_REGION: "${{ env.AWS_REGION }}", \
            AWS_CONFIG_FILE: /dev/null, AWS_SHARED_CREDENTIALS_FILE: /dev/null}
            """
        let py = TestPaths.python
        let yaml = """
            name: local-e2e
            description: Upload, deploy a TGI endpoint, stream tokens and clean up, all through boto3.
            \(local ? "local: true" : "")
            params:
              model_id: {type: string, default: meta-llama/Llama-2-7b-chat-hf}
            secrets:
              aws_secret: env:AWS_SECRET_ACCESS_KEY
            steps:
              - id: upload
                uses: shell
                with:
                  command: \(py) \(script) upload \(big.path) sous-e2e data/big.bin\(holdUpload ? " --hold" : "")
                  env: \(awsEnv)
              - id: deploy
                uses: shell
                with:
                  command: \(py) \(script) deploy e2e-ep ${{ params.model_id }}
                  env: \(awsEnv)
              - id: infer
                uses: shell
                with:
                  command: \(py) \(script) invoke e2e-ep "Once upon a time"
                  env: \(awsEnv)
              - id: cleanup
                uses: shell
                with:
                  command: \(py) \(script) cleanup e2e-ep sous-e2e
                  env: \(awsEnv)
            """
        recipe = dir.appendingPathComponent("local-e2e.yaml")
        try yaml.write(to: recipe, atomically: true, encoding: .utf8)
    }

    var args: [String] { ["--workspace", workspace.path] }

    func run(_ extra: [String] = [], env more: [String: String] = [:]) throws -> SousBinary.Result {
        try SousBinary.run(["run", "-y", recipe.path, "-p", "model_id=local/stories260K"] + args + extra, cwd: dir, env: env.merging(more) { $1 })
    }

    func start(_ extra: [String] = [], env more: [String: String] = [:]) throws -> SousBinary.Running {
        try SousBinary.start(["run", "-y", recipe.path, "-p", "model_id=local/stories260K"] + args + extra, cwd: dir, env: env.merging(more) { $1 })
    }

    /// `sous local status --json`; with `start`, the server is started first (a run stops the server it
    /// started, and its data persists), so the answer shows what the data holds.
    func status(start: Bool = true) throws -> [String: Any] {
        if start { _ = try SousBinary.run(["local", "start"] + args, cwd: dir, env: env) }
        let r = try SousBinary.run(["local", "status", "--json"] + args, cwd: dir, env: env)
        return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    var dataDir: URL { workspace.appendingPathComponent(".sous/local-cloud/data") }

    /// The pid recorded in server.json.
    func serverPID() -> Int32? {
        guard let d = try? Data(contentsOf: workspace.appendingPathComponent(".sous/local-cloud/server.json")),
            let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any]
        else { return nil }
        return (o["pid"] as? Int).map(Int32.init)
    }

    func killServer() throws {
        let pid = try #require(serverPID())
        #expect(kill(pid, SIGKILL) == 0)
        #expect(waitUntil(timeout: 10) { kill(pid, 0) != 0 })
    }

    func stop() {
        _ = try? SousBinary.run(["local", "stop"] + args, cwd: dir, env: env)
        hub.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    /// The greedy continuation transformers produced for "Once upon a time".
    static func goldenText() throws -> String {
        let d = try Data(contentsOf: model!.appendingPathComponent("golden.json"))
        let o = try JSONSerialization.jsonObject(with: d) as? [String: Any]
        return ((o?["cases"] as? [[String: Any]])?.first?["greedy_text"] as? String) ?? ""
    }

    static func generated(_ stdout: String) -> String? {
        guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("GENERATED ") }) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(10).utf8), options: .fragmentsAllowed) as? String
    }
}

/// `sous run --local` / `local: true`: a recipe runs end to end on the local cloud with the real tiny Llama.
/// Needs ../shared/models/stories260K-hf (skipped with a message otherwise).
@Suite("Recipes on the local cloud (sous binary)", .serialized, .enabled(if: RecipeFixture.model != nil, "needs ../shared/models/stories260K-hf"))
struct CLIEndToEndTests {
    @Test("sous run --local: upload, TGI endpoint from the Hub, streamed greedy story equals transformers', clean-up leaves nothing")
    func runLocal() throws {
        let f = try RecipeFixture(local: false)
        defer { f.stop() }
        // Started beforehand, the server outlives the run (a run stops only a server it started itself).
        #expect(try SousBinary.run(["local", "start"] + f.args, cwd: f.dir, env: f.env).status == 0)
        let r = try f.run(["--local"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(!r.stderr.contains("local cloud stopped"), "\(r.stderr)")
        let text = try #require(RecipeFixture.generated(r.stdout))
        #expect(text.count > 20)
        #expect(try RecipeFixture.goldenText().hasPrefix(text))
        let s = try f.status()
        #expect(s["running"] as? Bool == true)
        #expect((s["buckets"] as? [Any])?.isEmpty == true)
        #expect((s["endpoints"] as? [Any])?.isEmpty == true)
        // `sous local env` prints what points any AWS client at the server.
        let env = try SousBinary.run(["local", "env"] + f.args, cwd: f.dir, env: f.env)
        #expect(env.stdout.contains("export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:\(s["port"] as? Int ?? -1)"))
        #expect(env.stdout.contains("export AWS_SECRET_ACCESS_KEY="))
        let bundle = f.workspace.appendingPathComponent(".sous/local-cloud/tls/ca-bundle.pem").path
        if ClientTools.openssl {  // the certificate is made with the openssl tool
            #expect(FileManager.default.fileExists(atPath: bundle))
            #expect(env.stdout.contains("export SSL_CERT_FILE=\(bundle)"), "\(env.stdout)")
        } else {
            #expect(!env.stdout.contains("SSL_CERT_FILE"))
        }
        let stop = try SousBinary.run(["local", "stop"] + f.args, cwd: f.dir, env: f.env)
        #expect(stop.stdout.contains("stopped"))
        #expect(try f.status(start: false)["running"] as? Bool == false)
    }

    @Test("kill -9 during a multipart upload; the rerun (local: true) restarts the cloud and completes")
    func killDuringUpload() throws {
        let f = try RecipeFixture(local: true, bigFileMiB: 30, holdUpload: true)
        defer { f.stop() }
        let first = try f.start()
        let uploads = f.dataDir.appendingPathComponent("s3/sous-e2e/uploads")
        let sawPart = waitUntil(timeout: 60) {
            let ids = (try? FileManager.default.contentsOfDirectory(atPath: uploads.path)) ?? []
            return ids.contains { id in
                ((try? FileManager.default.contentsOfDirectory(atPath: uploads.appendingPathComponent(id).path)) ?? []).contains { $0.hasPrefix("part-") }
            }
        }
        #expect(sawPart)
        try f.killServer()
        let r1 = first.wait()
        #expect(r1.status != 0)
        #expect(!r1.stdout.contains("uploaded s3://"))
        let r2 = try f.run()
        #expect(r2.status == 0, "\(r2.stdout)\n\(r2.stderr)")
        #expect(r2.stdout.contains("uploaded s3://sous-e2e/data/big.bin \(30 << 20) bytes"))
        #expect(RecipeFixture.generated(r2.stdout) != nil)
        let s = try f.status()
        #expect((s["buckets"] as? [Any])?.isEmpty == true)
        #expect((s["endpoints"] as? [Any])?.isEmpty == true)
    }

    @Test("kill -9 while an endpoint is Creating; after restart the object and endpoint are back and the rerun completes")
    func killDuringEndpointCreation() throws {
        let f = try RecipeFixture(local: true)
        defer { f.stop() }
        let first = try f.start(env: ["SOUS_LOCAL_ENDPOINT_DELAY": "60"])
        let record = f.dataDir.appendingPathComponent("sagemaker/endpoints/e2e-ep.json")
        #expect(waitUntil(timeout: 60) { FileManager.default.fileExists(atPath: record.path) })
        try f.killServer()
        let r1 = first.wait()
        #expect(r1.status != 0)
        // Restart: the uploaded object and the endpoint come back; the endpoint loads its model again.
        let start = try SousBinary.run(["local", "start"] + f.args, cwd: f.dir, env: f.env)
        #expect(start.status == 0, "\(start.stdout)\n\(start.stderr)")
        let s = try f.status()
        let buckets = s["buckets"] as? [[String: Any]] ?? []
        #expect(buckets.first?["name"] as? String == "sous-e2e")
        #expect(buckets.first?["objects"] as? Int == 1)
        let endpoints = s["endpoints"] as? [[String: Any]] ?? []
        #expect(endpoints.first?["name"] as? String == "e2e-ep")
        #expect(["Creating", "InService"].contains(endpoints.first?["status"] as? String ?? ""))
        let r2 = try f.run()
        #expect(r2.status == 0, "\(r2.stdout)\n\(r2.stderr)")
        #expect(r2.stdout.contains("adopted the existing endpoint"))
        #expect(RecipeFixture.generated(r2.stdout) != nil)
        #expect((try f.status()["endpoints"] as? [Any])?.isEmpty == true)
    }
}
