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
}
