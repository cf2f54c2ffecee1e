import Foundation
import SousRecipe
@testable import SousSteps
import SousTestSupport
import Testing

/// `sous report` and the record.html a `sous run` leaves, through the built binary.
@Suite("sous report and record.html", .serialized)
struct ReportCommandTests {
    static let secret = "hf_REPORTsecret0123456789"

    static let recipe = """
        name: reported
        secrets:
          token: env:REPORT_TOKEN
        steps:
          - id: props
            name: Write serving.properties
            uses: file.write
            with:
              path: code/serving.properties
              properties:
                - engine: Python
                - option.model_id: local/stories260K
                - option.token: ${{ secrets.token }}
          - id: hello
            uses: print
            with: {message: "hello <b>world</b> & ${{ secrets.token }}"}
        """

    func write(_ dir: URL, _ name: String, _ text: String) throws {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func sous(_ dir: URL, _ args: [String], env: [String: String] = [:]) throws -> SousBinary.Result {
        try SousBinary.run(args, cwd: dir, env: ["REPORT_TOKEN": Self.secret].merging(env) { $1 })
    }

    /// Run ids of a recipe in `dir/workspace` (two runs in one second sort in any order).
    func runs(_ dir: URL, _ recipe: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("workspace/\(recipe)/runs").path).sorted()
    }

    /// Runs a recipe; returns the run id from the `· record: PATH` line.
    func run(_ dir: URL, _ recipe: String) throws -> String {
        let r = try sous(dir, ["run", recipe])
        #expect(r.status == 0, "\(r.stderr)")
        let line = try #require(r.stderr.split(separator: "\n").last { $0.contains("record: ") })
        return URL(fileURLWithPath: String(line.split(separator: "record: ").last ?? "")).lastPathComponent
    }

    func page(_ dir: URL, _ recipe: String, _ run: String) -> String {
        dir.appendingPathComponent("workspace/\(recipe)/runs/\(run)/record.html").path
    }

    @Test("prints the latest run's record.html; a run id picks that run; --recipe (or the run id) picks among several recipes")
    func latestRun() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-report")
        defer { try? FileManager.default.removeItem(at: dir) }
        try write(dir, "r.yaml", Self.recipe)
        let ids = [try run(dir, "r.yaml"), try run(dir, "r.yaml")]
        #expect(try runs(dir, "reported") == ids.sorted())

        let latest = try sous(dir, ["report"])
        #expect(latest.status == 0, "\(latest.stderr)")
        #expect(latest.stdout == page(dir, "reported", ids[1]) + "\n")
        #expect(FileManager.default.fileExists(atPath: page(dir, "reported", ids[1])))
        let first = try sous(dir, ["report", ids[0], "--workspace", dir.appendingPathComponent("workspace").path])
        #expect(first.stdout == page(dir, "reported", ids[0]) + "\n", "\(first.stderr)")

        // The page of the second run shows the cached file step and the file's redacted content.
        let html = try String(contentsOfFile: page(dir, "reported", ids[1]), encoding: .utf8)
        let parsed = try RecordPage(html)
        #expect(!html.contains(Self.secret))
        #expect(parsed.all("section", class: "cell").map { $0.attributes["data-status"] ?? "" } == ["skipped", "ran"])
        #expect(parsed.all("figure", class: "file").first?.text.contains("option.token=***") == true)
        #expect(parsed.all("pre", class: "transcript").first?.text == "hello <b>world</b> & ***\n")

        // A second recipe: the report needs --recipe, or a run id only one recipe has.
        try write(dir, "o.yaml", "name: other\nsteps:\n  - id: hi\n    uses: print\n    with: {message: hi}\n")
        let other = try run(dir, "o.yaml")
        let ambiguous = try sous(dir, ["report"])
        #expect(ambiguous.status == 2)
        #expect(ambiguous.stderr.contains("holds several recipes (other, reported); give one with --recipe NAME"), "\(ambiguous.stderr)")
        #expect(try sous(dir, ["report", "--recipe", "reported"]).stdout == page(dir, "reported", ids[1]) + "\n")
        #expect(try sous(dir, ["report", ids[0]]).stdout == page(dir, "reported", ids[0]) + "\n")
        #expect(try sous(dir, ["report", "--recipe", "other"]).stdout == page(dir, "other", other) + "\n")
    }

    @Test("an unknown run or recipe, or an empty workspace: exit 2 and a clear message")
    func unknown() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-report")
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = try sous(dir, ["report"])
        #expect(empty.status == 2)
        #expect(empty.stderr.contains("error: no recipe has run in \(dir.path)/workspace"), "\(empty.stderr)")
        try write(dir, "r.yaml", Self.recipe)
        #expect(try sous(dir, ["run", "r.yaml"]).status == 0)
        let id = try runs(dir, "reported")[0]
        let run = try sous(dir, ["report", "20000101-000000-beef"])
        #expect(run.status == 2)
        #expect(run.stderr == "error: recipe reported has no run '20000101-000000-beef' (latest: \(id))\n")
        #expect(run.stdout.isEmpty)
        let recipe = try sous(dir, ["report", "--recipe", "reportd"])
        #expect(recipe.status == 2)
        #expect(recipe.stderr.contains("no recipe named 'reportd' has run in"), "\(recipe.stderr)")
        #expect(recipe.stderr.contains("did you mean 'reported'?"), "\(recipe.stderr)")
        let help = try sous(dir, ["report", "--help"])
        #expect(help.stdout.contains("record.html"))
        #expect(help.stdout.contains("--open"))
    }

    @Test("--open hands the page to xdg-open; without one on PATH it says so and exits 1")
    func open() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-report")
        defer { try? FileManager.default.removeItem(at: dir) }
        try write(dir, "r.yaml", Self.recipe)
        #expect(try sous(dir, ["run", "r.yaml"]).status == 0)
        let path = page(dir, "reported", try runs(dir, "reported")[0])
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        #if os(macOS)
            let opener = "open"
        #else
            let opener = "xdg-open"
        #endif
        let script = bin.appendingPathComponent(opener)
        try "#!/bin/sh\nprintf '%s' \"$1\" > \"$(dirname \"$0\")/opened\"\n".write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        let opened = try sous(dir, ["report", "--open"], env: ["PATH": bin.path + ":/usr/bin:/bin"])
        #expect(opened.status == 0, "\(opened.stderr)")
        #expect(opened.stdout == path + "\n")
        #expect(try String(contentsOf: bin.appendingPathComponent("opened"), encoding: .utf8) == path)

        let none = try sous(dir, ["report", "--open"], env: ["PATH": dir.appendingPathComponent("nowhere").path])
        #expect(none.status == 1)
        #expect(none.stdout == path + "\n")
        #expect(none.stderr.contains("cannot open the page: \(opener)"), "\(none.stderr)")
        #expect(none.stderr.contains("is not on PATH"))
    }

    @Test("a run killed in the middle leaves a record.html with the steps that finished")
    func killedRun() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-report")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pidFile = dir.appendingPathComponent("sleep.pid").path
        try write(dir, "k.yaml", """
            name: killed
            steps:
              - id: first
                uses: print
                with: {message: before the kill}
              - id: wait
                uses: shell
                with: {command: "echo $$ > \(pidFile); exec sleep 30"}
            """)
        let running = try SousBinary.start(["run", "-y", "k.yaml"], cwd: dir)
        let sleeping = waitUntil(timeout: 30) { FileManager.default.fileExists(atPath: pidFile) }
        kill(running.pid, SIGKILL)
        _ = running.wait()
        if let pid = try? String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), let p = Int32(pid) {
            kill(p, SIGKILL)
        }
        #expect(sleeping)
        let ids = try runs(dir, "killed")
        let parsed = try RecordPage(contentsOf: URL(fileURLWithPath: page(dir, "killed", ids[0])))
        #expect(parsed.all("span", class: "badge").first?.text == "running")
        #expect(parsed.all("section", class: "cell").map { $0.attributes["data-step"] ?? "" } == ["first"])
        #expect(try sous(dir, ["report"]).stdout == page(dir, "killed", ids[0]) + "\n")
    }

    /// Runs the report recipe plus an ask step against a loopback SageMaker Runtime streaming `invokeTokens`
    /// over several reads; returns the page's path.
    func streamedRun(_ dir: URL) throws -> String {
        let server = try InvokeServer(scenarios: [
            "story-ep": ["format": "tgi", "tokens": invokeTokens, "details": true, "seed": 5, "delay_ms": 40, "max_chunk": 2000]
        ])
        try write(dir, "r.yaml", Self.recipe + """

              - id: ask
                name: Ask the endpoint
                uses: sagemaker.invoke-stream
                with:
                  endpoint: story-ep
                  user: Write a launch email to Alice.
                  parameters: {max_new_tokens: 64, details: true}
            """)
        let run = try sous(dir, ["run", "r.yaml"], env: server.env)
        #expect(run.status == 0, "\(run.stderr)")
        let html = try String(contentsOfFile: try page(dir, "reported", runs(dir, "reported")[0]), encoding: .utf8)
        #expect(!html.contains(InvokeServer.secret))
        return try sous(dir, ["report"]).stdout.trimmingCharacters(in: .newlines)
    }

    @Test("sagemaker.invoke-stream records when each token arrived (arrivals_ms); the page charts one mark per token")
    func tokenArrivals() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-report")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try streamedRun(dir)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("record.json"))) as? [String: Any]
        let ask = try #require((record?["steps"] as? [[String: Any]])?.first { $0["id"] as? String == "ask" }?["outputs"] as? [String: Any])
        let arrivals = try #require(ask["arrivals_ms"] as? [Double])
        #expect(arrivals.count == invokeTokens.count)
        #expect(arrivals == arrivals.sorted())
        // Tokens that arrive in one read share a time; the paced reads spread the answer over several.
        #expect(Set(arrivals).count > 1)
        let ttft = try #require(ask["time_to_first_token_s"] as? Double)
        #expect(abs(arrivals[0] - ttft * 1000) < 1, "\(arrivals[0]) vs \(ttft)")

        let parsed = try RecordPage(contentsOf: URL(fileURLWithPath: path))
        #expect(parsed.all("circle", class: "tok").count == invokeTokens.count)
        #expect(parsed.all("svg", class: "tokens").first?.step == "ask")
        #expect(parsed.elements.first { $0.attributes["data-stat"] == "ttft" }?.text.hasSuffix("ms") == true)
        #expect(parsed.all("pre", class: "answer").first?.text == invokeTokens.joined())
        #expect(parsed.all("dd").contains { $0.text.hasPrefix("local (http://127.0.0.1:") })
    }

    @Test(
        "Chromium renders the page of a run that streamed an answer: no console error or failed request, cells and token chart visible",
        .enabled(if: BrowserCheck.available, "needs /usr/bin/chromium and Python's playwright (SOUS_TEST_DEPS=1 scripts/bootstrap.sh)"))
    func browser() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-report")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try streamedRun(dir)
        for dark in [false, true] {
            let shot = dir.appendingPathComponent(dark ? "dark.png" : "light.png")
            let check = try BrowserCheck.run(page: URL(fileURLWithPath: path), screenshot: shot, dark: dark)
            #expect(check.status == 0, "\(check.output)")
            #expect(check.result["marks"] as? [Int] == [invokeTokens.count], "\(check.output)")
            #expect((check.result["steps"] as? [[String: Any]])?.compactMap { $0["step"] as? String } == ["props", "hello", "ask"])
            #expect((check.result["ttft"] as? [String])?.first?.hasSuffix("ms") == true, "\(check.output)")
            #expect(((try? FileManager.default.attributesOfItem(atPath: shot.path)[.size] as? Int) ?? 0) > 10_000)
        }
    }
}

@Suite("sagemaker.invoke-stream arrivals_ms")
struct TokenArrivalsOutputTests {
    @Test("at most 2000 arrivals, evenly spaced with the first and last kept, rounded to 0.1 ms")
    func downsampled() {
        let few = (0..<5).map { Double($0) * 1.234 }
        #expect(InvokeStreamKind.arrivalsOutput(few) == [0, 1.2, 2.5, 3.7, 4.9].map(Value.number))
        let many = (0..<5000).map(Double.init)
        let out = InvokeStreamKind.arrivalsOutput(many)
        #expect(out.count == 2000)
        #expect(out.first == .number(0))
        #expect(out.last == .number(4999))
        #expect(out.compactMap(\.doubleValue) == out.compactMap(\.doubleValue).sorted())
        #expect(InvokeStreamKind.arrivalsOutput([]).isEmpty)
    }
}
