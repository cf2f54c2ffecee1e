import Foundation
import SousTestSupport
import Testing

/// `hf.snapshot` through the built `sous` against Tests/python/hub_server.py.
@Suite(.serialized) struct HubStepsEndToEndTests {
    static func spec(_ text: String) -> String {
        """
        {"repos": [{"id": "org/tiny", "files": [
          {"path": "config.json", "text": "\(text)"},
          {"path": "model.safetensors", "size": 40000, "seed": 1, "lfs": true},
          {"path": "pytorch_model.bin", "size": 4000, "seed": 2, "lfs": true},
          {"path": "notes.md", "text": "left out"}]}]}
        """
    }

    static let recipe = """
        name: snap
        secrets:
          hf_token: env:HF_TOKEN
        steps:
          - id: download
            uses: hf.snapshot
            with:
              repo_id: org/tiny
              allow_patterns: ["*.json", "*.safetensors", "*.bin"]
              token: ${{ secrets.hf_token }}
          - id: show
            uses: file.write
            with:
              path: commit.txt
              content: ${{ steps.download.outputs.commit }}
        """

    @Test func snapshotIsCachedByTheResolvedCommitAndRerunsWhenTheRevisionMoves() throws {
        let f = try AWSStepsFixture(aws: false)
        let hubA = try HubServerForSteps(spec: Self.spec("a"), in: f.dir, name: "a.json")
        try f.write("snap.yaml", Self.recipe)

        let first = try f.sous(["run", "snap.yaml", "-v"], env: ["HF_ENDPOINT": hubA.endpoint])
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(AWSStepsFixture.statuses(first.stdout) == ["download": "ran", "show": "ran"])
        #expect((first.stdout + first.stderr).contains("*.safetensors (1) and *.bin (1)"), "the duplicate-weights warning")
        let out = try f.outputs("snap", "download")
        let commitA = try #require(out["commit"] as? String)
        #expect(commitA.count == 40)
        #expect(out["files"] as? [String] == ["config.json", "model.safetensors", "pytorch_model.bin"])
        #expect(out["total_bytes"] as? Int == 1 + 40_000 + 4_000)
        let path = try #require(out["path"] as? String)
        #expect(path.hasSuffix("/models--org--tiny/snapshots/\(commitA)"))
        #expect(path.hasPrefix(f.dir.appendingPathComponent("hf").path))  // the shared cache, HF_HUB_CACHE
        #expect(try String(contentsOfFile: path + "/config.json", encoding: .utf8) == "a")

        // Same revision, same commit: cached (validate asked the Hub where `main` points).
        let second = try f.sous(["run", "snap.yaml"], env: ["HF_ENDPOINT": hubA.endpoint])
        #expect(AWSStepsFixture.statuses(second.stdout) == ["download": "cached", "show": "cached"])
        // Offline: the cache's refs answer, still cached.
        let offline = try f.sous(["run", "snap.yaml"], env: ["HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1"])
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(AWSStepsFixture.statuses(offline.stdout) == ["download": "cached", "show": "cached"])

        // The same repo now at another commit (another server): plan says `main` moved; run follows it.
        let hubB = try HubServerForSteps(spec: Self.spec("b"), in: f.dir, name: "b.json")
        let plan = try f.sous(["plan", "snap.yaml"], env: ["HF_ENDPOINT": hubB.endpoint])
        #expect(plan.stdout.contains("revision 'main' moved: \(commitA.prefix(12)) → "), "\(plan.stdout)")
        let third = try f.sous(["run", "snap.yaml"], env: ["HF_ENDPOINT": hubB.endpoint])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(AWSStepsFixture.statuses(third.stdout) == ["download": "ran", "show": "ran"])
        let commitB = try #require(try f.outputs("snap", "download")["commit"] as? String)
        #expect(commitB != commitA)
        #expect(try String(contentsOfFile: "\(f.workspace)/snap/work/commit.txt", encoding: .utf8) == commitB)

        // The token never lands in the workspace.
        let state = try String(contentsOfFile: "\(f.workspace)/snap/state.json", encoding: .utf8)
        #expect(!state.contains("hf_e2e_secret_token"))
    }

    @Test func hubDownloadSubcommandPrintsTheSnapshot() throws {
        let f = try AWSStepsFixture(aws: false)
        let hub = try HubServerForSteps(spec: Self.spec("x"), in: f.dir)
        let r = try f.sous(["hub", "download", "org/tiny", "--include", "*.json"], env: ["HF_ENDPOINT": hub.endpoint])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(obj?["files"] as? Int == 1 || (obj?["files"] as? [String])?.count == 1)
        #expect((obj?["path"] as? String)?.contains("models--org--tiny/snapshots/") == true)
        let usage = try f.sous(["hub", "download"])
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("missing the repository id"), "\(usage.stderr)")
    }

    static let localRecipe = """
        name: local
        steps:
          - id: download
            uses: hf.snapshot
            with:
              repo_id: ./model
          - id: show
            uses: file.write
            with:
              path: commit.txt
              content: ${{ steps.download.outputs.commit }}
        """

    @Test func aLocalFolderIsTakenInWithoutTheHubAndRerunsWhenItChanges() throws {
        let f = try AWSStepsFixture(aws: false)
        let model = f.dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model.appendingPathComponent(".git"), withIntermediateDirectories: true)
        try Data("{\"dim\": 8}".utf8).write(to: model.appendingPathComponent("config.json"))
        try Data(repeating: 7, count: 5000).write(to: model.appendingPathComponent("model.safetensors"))
        try Data("ref: refs/heads/main".utf8).write(to: model.appendingPathComponent(".git/HEAD"))
        try f.write("local.yaml", Self.localRecipe)
        let noHub = ["HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"]

        let first = try f.sous(["run", "local.yaml", "-v"], env: noHub)
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(AWSStepsFixture.statuses(first.stdout) == ["download": "ran", "show": "ran"])
        let out = try f.outputs("local", "download")
        let commit = try #require(out["commit"] as? String)
        #expect(commit.count == 40)
        #expect(out["files"] as? [String] == ["config.json", "model.safetensors"])
        #expect(out["total_bytes"] as? Int == 10 + 5000)
        let path = try #require(out["path"] as? String)
        #expect(path == f.dir.appendingPathComponent("hf").path + "/models--local--model/snapshots/\(commit)")
        #expect(try String(contentsOfFile: path + "/config.json", encoding: .utf8) == "{\"dim\": 8}")
        #expect((first.stdout + first.stderr).contains("/model = \(commit): 2 files, 5010 bytes (taken from a local folder)"), "\(first.stdout)")

        // Unchanged folder: cached. A changed file: plan says so, run takes the new content in.
        let second = try f.sous(["run", "local.yaml"], env: noHub)
        #expect(AWSStepsFixture.statuses(second.stdout) == ["download": "cached", "show": "cached"])
        // Replaced (as editors do); a file written in place would also change the hard-linked blob, which the
        // engine reports as "output 'path' changed on disk" before asking the step.
        try Data("{\"dim\": 16}".utf8).write(to: model.appendingPathComponent("config.json"), options: .atomic)
        let plan = try f.sous(["plan", "local.yaml"], env: noHub)
        #expect(plan.stdout.contains("/model changed: \(commit.prefix(12)) → "), "\(plan.stdout)")
        let third = try f.sous(["run", "local.yaml"], env: noHub)
        #expect(AWSStepsFixture.statuses(third.stdout) == ["download": "ran", "show": "ran"])
        let newCommit = try #require(try f.outputs("local", "download")["commit"] as? String)
        #expect(newCommit != commit)
        #expect(try String(contentsOfFile: "\(f.workspace)/local/work/commit.txt", encoding: .utf8) == newCommit)

        // `sous hub download` takes a folder too.
        let cli = try f.sous(["hub", "download", "./model", "--include", "*.json"], env: noHub)
        #expect(cli.status == 0, "\(cli.stderr)")
        let printed = try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any]
        #expect((printed?["path"] as? String)?.contains("/models--local--model/snapshots/") == true, "\(cli.stdout)")
        #expect(printed?["files"] as? [String] == ["config.json"])
    }

    @Test func withoutTheHubTheErrorSaysWhatToDo() throws {
        let f = try AWSStepsFixture(aws: false)
        let cache = f.dir.appendingPathComponent("hf").path
        let refused = try f.sous(["hub", "download", "org/tiny"], env: ["HF_ENDPOINT": "http://127.0.0.1:9"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("Cannot reach the Hugging Face Hub at http://127.0.0.1:9 for org/tiny ("), "\(refused.stderr)")
        #expect(refused.stderr.contains("set HF_HUB_OFFLINE=1 (cache: \(cache))"))
        #expect(refused.stderr.contains("(-p model_id=/path/to/snapshot)"))

        try f.write("snap.yaml", Self.recipe)
        let offline = try f.sous(["run", "snap.yaml"], env: ["HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"])
        #expect(offline.status != 0)
        let text = offline.stdout + offline.stderr
        #expect(text.contains("org/tiny at revision 'main' is not (completely) in the Hub cache \(cache)"), "\(text)")
        #expect(text.contains("pass a local folder as the model id"))
    }
}
