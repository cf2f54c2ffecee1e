import Foundation
import SousTestSupport
import Testing

/// End-to-end tests of `sous run/plan/status/validate/steps/destroy` against the built binary.
@Suite(.serialized) struct RunnerEndToEndTests {
    let dir: URL

    init() throws { dir = try TestPaths.makeTemporaryDirectory("sous-e2e") }

    func write(_ name: String, _ text: String) throws {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func sous(_ args: String..., env: [String: String] = [:]) throws -> SousBinary.Result {
        try SousBinary.run(args, cwd: dir, env: env)
    }

    /// Lines like `[2/3] pack  archive.tar  cached`, as (step, status word).
    func statuses(_ out: String) -> [String: String] {
        var m: [String: String] = [:]
        for line in out.split(separator: "\n") where line.hasPrefix("[") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 4 else { continue }
            m[String(parts[1])] = String(parts[3])
        }
        return m
    }

    static let twoBranches = """
        name: branches
        params:
          greeting: {type: string, default: hello}
          count: {type: int, default: 3}
        steps:
          - id: a
            uses: file.write
            with:
              path: a/greeting.txt
              content: "${{ params.greeting }}"
          - id: b
            uses: file.write
            with:
              path: b/count.txt
              content: "count=${{ params.count }}"
          - id: pack
            uses: archive.tar
            with:
              source: ${{ steps.a.outputs.dir }}
              output: a.tar.gz
        """

    @Test func secondRunIsAllCachedAndParamChangeRerunsOnlyDependents() throws {
        try write("r.yaml", Self.twoBranches)
        let first = try sous("run", "r.yaml")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(statuses(first.stdout) == ["a": "ran", "b": "ran", "pack": "ran"])
        let second = try sous("run", "r.yaml")
        #expect(second.status == 0)
        #expect(statuses(second.stdout) == ["a": "cached", "b": "cached", "pack": "cached"])
        let third = try sous("run", "r.yaml", "-p", "count=4")
        #expect(statuses(third.stdout) == ["a": "cached", "b": "ran", "pack": "cached"])
        let fourth = try sous("run", "r.yaml", "-p", "greeting=hi", "-p", "count=4")
        #expect(statuses(fourth.stdout) == ["a": "ran", "b": "cached", "pack": "ran"])
        let text = try String(contentsOf: dir.appendingPathComponent("workspace/branches/work/b/count.txt"), encoding: .utf8)
        #expect(text == "count=4")
    }

    @Test func planSaysWhyWithOldAndNewValues() throws {
        try write("r.yaml", Self.twoBranches)
        let fresh = try sous("plan", "r.yaml")
        #expect(fresh.stdout.contains("run   no previous run"))
        _ = try sous("run", "r.yaml")
        let plan = try sous("plan", "r.yaml", "-p", "count=7")
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("input 'content' changed: \"count=3\" → \"count=7\""), "\(plan.stdout)")
        #expect(plan.stdout.contains("skip  up to date"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("workspace/branches/work/a.tar.gz"))
        let missing = try sous("plan", "r.yaml")
        #expect(missing.stdout.contains("output 'path' is missing:"), "\(missing.stdout)")
        // plan never writes: no new run record appears.
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("workspace/branches/runs").path)
        #expect(runs.count == 1)
        let rerun = try sous("run", "r.yaml")
        #expect(statuses(rerun.stdout)["pack"] == "ran")
    }

    @Test func stepAndFromRerunWithRecordedOutputs() throws {
        try write("r.yaml", Self.twoBranches)
        let early = try sous("run", "r.yaml", "--step", "pack")
        #expect(early.status == 1)
        #expect(early.stderr.contains("needs the outputs of step 'a', which has not run in this workspace"), "\(early.stderr)")
        _ = try sous("run", "r.yaml")
        let one = try sous("run", "r.yaml", "--step", "pack")
        #expect(one.status == 0)
        #expect(statuses(one.stdout) == ["pack": "ran"])
        let from = try sous("run", "r.yaml", "--from", "b")
        #expect(statuses(from.stdout) == ["b": "ran", "pack": "ran"])
        let forced = try sous("run", "r.yaml", "--force")
        #expect(statuses(forced.stdout) == ["a": "ran", "b": "ran", "pack": "ran"])
        let typo = try sous("run", "r.yaml", "--step", "pak")
        #expect(typo.status == 1)
        #expect(typo.stderr.contains("--step pak: the recipe has no step 'pak'; did you mean 'pack'?"))
    }

    @Test func killNineMidStepThenRerunCompletes() throws {
        try write("r.yaml", """
            name: slow
            steps:
              - id: first
                uses: file.write
                with: {path: one.txt, content: "1"}
              - id: wait
                uses: shell
                with:
                  command: "if [ ! -f done-once ]; then touch done-once; echo $$ > pid; exec sleep 60; fi; echo finished > out.txt"
                  generates: [out.txt]
              - id: last
                uses: file.write
                with: {path: three.txt, content: "${{ steps.wait.outputs.stdout }}"}
            """)
        let running = try SousBinary.start(["run", "r.yaml", "--yes"], cwd: dir)
        let pidFile = dir.appendingPathComponent("workspace/slow/work/pid").path
        #expect(waitUntil { FileManager.default.fileExists(atPath: pidFile) && ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").hasSuffix("\n") })
        kill(running.pid, SIGKILL)
        _ = running.wait()
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let child = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(child, SIGKILL)
        }
        // The state written before the kill is intact and valid JSON.
        let stateData = try Data(contentsOf: dir.appendingPathComponent("workspace/slow/state.json"))
        let state = try JSONSerialization.jsonObject(with: stateData) as? [String: Any]
        let steps = state?["steps"] as? [String: Any]
        #expect(steps?.keys.sorted() == ["first"])
        let rerun = try sous("run", "r.yaml", "--yes", "--wait", "5")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(statuses(rerun.stdout) == ["first": "cached", "wait": "ran", "last": "ran"])
        let again = try sous("run", "r.yaml", "--yes")
        #expect(statuses(again.stdout) == ["first": "cached", "wait": "cached", "last": "cached"])
    }

    @Test func concurrentRunWaitsThenTimesOutNamingTheHolder() throws {
        try write("r.yaml", """
            name: busy
            steps:
              - id: hold
                uses: shell
                with:
                  command: "touch started; while [ ! -f release ]; do sleep 0.05; done"
            """)
        let first = try SousBinary.start(["run", "r.yaml", "--yes"], cwd: dir)
        #expect(waitUntil { FileManager.default.fileExists(atPath: dir.appendingPathComponent("workspace/busy/work/started").path) })
        let second = try sous("run", "r.yaml", "--yes", "--wait", "0.5")
        #expect(second.status == 3)
        #expect(second.stderr.contains("the recipe is locked by pid \(first.pid) on "), "\(second.stderr)")
        #expect(second.stderr.contains("pass --wait SECONDS to wait longer"))
        // Read-only commands do not take the lock.
        let plan = try sous("plan", "r.yaml")
        #expect(plan.status == 0)
        #expect(FileManager.default.createFile(atPath: dir.appendingPathComponent("workspace/busy/work/release").path, contents: nil))
        #expect(first.wait().status == 0)
    }

    @Test func staleLockOfDeadProcessIsTakenOver() throws {
        try write("r.yaml", Self.twoBranches)
        let lockDir = dir.appendingPathComponent("workspace/branches")
        try FileManager.default.createDirectory(at: lockDir, withIntermediateDirectories: true)
        // A lock file left by a process that died (pid 2^22-1 is far above any live pid here).
        try #"{"pid":4194303,"host":"elsewhere","startedAt":"2026-01-01T00:00:00Z","command":"sous run r.yaml"}"#
            .write(to: lockDir.appendingPathComponent("lock"), atomically: true, encoding: .utf8)
        let r = try sous("run", "r.yaml", "--wait", "0")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(statuses(r.stdout).count == 3)
    }

    @Test func canarySecretAppearsNowhere() throws {
        let canary = "sk-CANARY-7f3a9c1e-DO-NOT-LEAK"
        let multi = "line-one-SECRETPART\nline-two-SECRETPART2"
        try write("r.yaml", """
            name: leaky
            secrets:
              token: env:CANARY_TOKEN
              cert: env:CANARY_MULTI
            steps:
              - id: echo
                uses: shell
                with:
                  command: "echo token=$TOKEN; echo \\"$CERT\\"; echo $TOKEN > t.txt"
                  env: {TOKEN: "${{ secrets.token }}", CERT: "${{ secrets.cert }}"}
                  generates: [t.txt]
              - id: show
                uses: print
                with:
                  message: "the token is ${{ secrets.token }}"
              - id: fail
                uses: shell
                with:
                  command: "echo bad $TOKEN >&2; exit 3"
                  env: {TOKEN: "${{ secrets.token }}"}
            """)
        let env = ["CANARY_TOKEN": canary, "CANARY_MULTI": multi]
        let r = try sous("run", "r.yaml", "--yes", "--verbose", env: env)
        #expect(r.status == 1)
        let j = try sous("run", "r.yaml", "--yes", "--json", env: env)
        let p = try sous("plan", "r.yaml", env: env)
        let s = try sous("status", env: env)
        for out in [r.stdout, r.stderr, j.stdout, j.stderr, p.stdout, s.stdout] {
            #expect(!out.contains(canary))
            #expect(!out.contains("SECRETPART"))
        }
        #expect(r.stdout.contains("token=***"))
        #expect(r.stderr.contains("bad ***"))
        // Nothing under the workspace holds it, except the file the recipe itself wrote on purpose.
        let root = dir.appendingPathComponent("workspace").path
        var scanned = 0
        for case let rel as String in FileManager.default.enumerator(atPath: root)! {
            let full = root + "/" + rel
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue, !rel.hasSuffix("work/t.txt") else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: full))
            scanned += 1
            #expect(data.range(of: Data(canary.utf8)) == nil, "secret found in \(rel)")
            #expect(data.range(of: Data("SECRETPART".utf8)) == nil, "secret line found in \(rel)")
        }
        #expect(scanned >= 5)
    }

    @Test func invalidRecipeExitsTwoWithPositionAndCaret() throws {
        try write("bad.yaml", "name: bad\nsteps:\n  - id: one\n    uses: file.wrte\n")
        let r = try sous("validate", "bad.yaml")
        #expect(r.status == 2)
        #expect(r.stderr == """
            bad.yaml:4:11: error: unknown step kind 'file.wrte'; did you mean 'file.write'? (`sous steps` lists them)
                uses: file.wrte
                      ^

            """)
        let ok = try sous("validate", "bad.yaml".replacingOccurrences(of: "bad", with: "bad"))
        #expect(ok.status == 2)
    }

    @Test func stepsDocumentsKinds() throws {
        let list = try sous("steps")
        #expect(list.status == 0)
        for kind in ["file.write", "archive.tar", "shell", "print"] { #expect(list.stdout.contains(kind)) }
        let one = try sous("steps", "archive.tar")
        #expect(one.stdout.contains("archive.tar (version 2, category pure)"))
        #expect(one.stdout.contains("include_top_folder: bool, default false"))
        let unknown = try sous("steps", "archive.tarr")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("did you mean 'archive.tar'?"))
    }

    @Test func statusAndRecordsReadLikeANotebook() throws {
        try write("r.yaml", Self.twoBranches)
        _ = try sous("run", "r.yaml")
        let st = try sous("status")
        #expect(st.stdout.contains("branches"))
        #expect(st.stdout.contains("step pack (archive.tar)"))
        let runs = dir.appendingPathComponent("workspace/branches/runs")
        let id = try #require(try FileManager.default.contentsOfDirectory(atPath: runs.path).first)
        let md = try String(contentsOf: runs.appendingPathComponent("\(id)/record.md"), encoding: .utf8)
        #expect(md.contains("## [3] pack — `archive.tar` — ran"))
        #expect(md.contains("*Why:* no previous run"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: runs.appendingPathComponent("\(id)/record.json"))) as? [String: Any]
        #expect(json?["status"] as? String == "succeeded")
        #expect(FileManager.default.fileExists(atPath: runs.appendingPathComponent("\(id)/logs/pack.log").path))
    }

    @Test func shellCommandsNeedConfirmationWithoutYes() throws {
        try write("r.yaml", "name: cmd\nsteps:\n  - id: hi\n    uses: shell\n    with: {command: 'echo hi'}\n")
        let refused = try sous("run", "r.yaml")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("step 'hi' of recipe cmd (r.yaml) runs on this machine:\n  $ echo hi\nnot confirmed:"), "\(refused.stderr)")
        #expect(refused.stderr.contains("rerun with --yes"))
        let ok = try sous("run", "r.yaml", "--yes")
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("hi\n"))
        // Once allowed, the same commands are trusted in this workspace.
        let again = try sous("run", "r.yaml")
        #expect(again.status == 0)
    }

    @Test func writesStayInsideTheWorkFolder() throws {
        try write("r.yaml", "name: escape\nsteps:\n  - id: w\n    uses: file.write\n    with: {path: ../../../outside.txt, content: x}\n")
        let r = try sous("run", "r.yaml")
        #expect(r.status == 2)
        #expect(r.stderr.contains("r.yaml:5:18: error: step 'w' (file.write): input 'path': '../../../outside.txt' leaves the recipe's work folder"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("outside.txt").path))
    }

    @Test func deterministicArchives() throws {
        try write("r.yaml", Self.twoBranches)
        _ = try sous("run", "r.yaml")
        let tar = dir.appendingPathComponent("workspace/branches/work/a.tar.gz")
        let first = try Data(contentsOf: tar)
        _ = try sous("run", "r.yaml", "--force")
        #expect(try Data(contentsOf: tar) == first)
        // The system tar reads it back.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/tar")
        p.arguments = ["-tzf", tar.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "greeting.txt\n")
    }
}
