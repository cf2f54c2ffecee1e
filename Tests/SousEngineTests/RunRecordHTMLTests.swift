import Foundation
@testable import SousEngine
import SousRecipe
import SousTestSupport
import Testing

/// Creates a fake endpoint (a file) with an ARN, through the ledger.
private struct ArnResourceKind: StepKind {
    let cloud: String
    static let configuration = StepKindConfiguration(name: "test.endpoint", version: 1, category: .create, summary: "a fake endpoint")
    struct Inputs: StepInputs {
        @Input("base name") var base: String
    }
    struct Outputs: StepOutputs {
        @Output("the endpoint name") var name: String
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let name = "\(inputs.base)-\(ctx.runID)"
        let (attrs, _) = try await ctx.createResource(
            type: "test.endpoint", name: name, request: ResourceRequest(.string(name)), find: { nil },
            create: {
                _ = FileManager.default.createFile(atPath: cloud + "/" + name, contents: Data())
                return ["name": .string(name), "arn": .string("arn:aws:sagemaker:us-east-1:000000000000:endpoint/\(name)")]
            })
        var outputs = Outputs()
        outputs.name = attrs["name"]?.stringValue ?? ""
        return outputs
    }
}

/// Deletes the fake endpoint named `name` and records it in the ledger.
private struct DeleteKind: StepKind {
    let cloud: String
    static let configuration = StepKindConfiguration(name: "test.delete", version: 1, category: .teardown, summary: "deletes a fake endpoint")
    struct Inputs: StepInputs {
        @Input("endpoint") var name: String
    }
    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> NoOutputs {
        for e in ctx.liveResources(type: "test.endpoint") where e.name == inputs.name {
            try? FileManager.default.removeItem(atPath: cloud + "/" + inputs.name)
            try ctx.markDeleted(e)
        }
        return NoOutputs()
    }
}

/// Writes `text` to `code/serving.properties` in the recipe's work folder.
private struct PropertiesKind: StepKind {
    static let configuration = StepKindConfiguration(name: "test.properties", version: 1, category: .pure, summary: "writes serving.properties")
    struct Inputs: StepInputs {
        @Input("content") var text: String
    }
    struct Outputs: StepOutputs {
        @Output(.path, "the file") var path: String
    }
    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        var outputs = Outputs()
        outputs.path = try ctx.confinedPath("code/serving.properties")
        try FileManager.default.createDirectory(atPath: (outputs.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(inputs.text.utf8).write(to: URL(fileURLWithPath: outputs.path))
        return outputs
    }
}

/// Prints `message`; fails with it when `fail` is set.
private struct SayKind: StepKind {
    static let configuration = StepKindConfiguration(name: "test.say", version: 1, category: .effect, summary: "prints a message")
    struct Inputs: StepInputs {
        @Input("text") var message: String
        @Input(default: false, "fail with the message") var fail: Bool
    }
    struct Outputs: StepOutputs {
        @Output("the message") var said: String
    }
    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        if inputs.fail { throw StepError("cannot say: \(inputs.message)") }
        ctx.write(inputs.message + "\n")
        var outputs = Outputs()
        outputs.said = ctx.redact(inputs.message)
        return outputs
    }
}

/// Counts the step cells in its own run's record.html while it runs.
private struct PeekKind: StepKind {
    static let configuration = StepKindConfiguration(name: "test.peek", version: 1, category: .effect, summary: "reads the run's record.html")
    struct Outputs: StepOutputs {
        @Output("step cells on the page") var cells: Int
    }
    func run(_ inputs: NoInputs, _ ctx: StepContext) async throws -> Outputs {
        let page = try String(contentsOfFile: ctx.layout.runsDir + "/" + ctx.runID + "/record.html", encoding: .utf8)
        var outputs = Outputs()
        outputs.cells = page.components(separatedBy: "<section class=\"cell ").count - 1
        return outputs
    }
}

/// Streams a fixed answer with made-up token timing, as `sagemaker.invoke-stream` records it.
private struct StreamKind: StepKind {
    /// 37 tokens 8 ms apart from 120 ms, with a 158 ms wait before the 21st.
    static let arrivals: [Double] = (0..<37).map { (i: Int) -> Double in
        let late: Double = i >= 20 ? 150 : 0
        return 120 + Double(i) * 8 + late
    }
    static let configuration = StepKindConfiguration(name: "test.stream", version: 1, category: .effect, summary: "a streamed answer")
    struct Outputs: StepOutputs {
        @Output("answer") var text: String
        @Output("tokens") var tokens: Int
        @Output("ttft") var timeToFirstTokenS: Double
        @Output("rate") var tokensPerSecond: Double
        @Output("why it ended") var finishReason: String
        @Output("arrivals") var arrivalsMs: [Value]
    }
    func run(_ inputs: NoInputs, _ ctx: StepContext) async throws -> Outputs {
        var outputs = Outputs()
        outputs.text = "Once upon a time, <there> was a \"tiny\" model & a cloud."
        ctx.write(outputs.text)
        outputs.tokens = 38
        outputs.timeToFirstTokenS = 0.12
        outputs.tokensPerSecond = 86.4
        outputs.finishReason = "eos_token"
        outputs.arrivalsMs = Self.arrivals.map(Value.number)
        return outputs
    }
}

@Suite("record.html")
struct RunRecordHTMLTests {
    static let secret = "tok-Sup3r-s3cret-value"

    @Test("htmlEscape: markup characters become entities, control characters caret notation")
    func escape() {
        #expect(htmlEscape("plain text · 日本語") == "plain text · 日本語")
        #expect(htmlEscape("<a href='x'>&\"</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;")
        #expect(htmlEscape("\u{1B}[31mred\u{1B}[0m\ttab\r\nline\u{0}") == "^[[31mred^[[0m\ttab\r\nline^@")
        #expect(htmlEscape("\u{7F}\u{FFFE}") == "^?\u{FFFD}")
    }

    @Test("a streamed answer over 2000 tokens is charted from the sample: counts reach the total")
    func sampledStream() throws {
        let arrivals: [Value] = (0..<2000).map { .number(Double($0)) }
        let s = try #require(StreamFigures(["arrivals_ms": .list(arrivals), "tokens": .int(5000), "text": .string("x")]))
        #expect(s.sampled)
        #expect(s.count(at: 0) == 1)
        #expect(s.count(at: 1999) == 5000)
        let short = try #require(StreamFigures(["arrivals_ms": .list(arrivals.prefix(40).map { $0 }), "tokens": .int(41)]))
        #expect(!short.sampled)
        #expect(short.count(at: 39) == 40)
        #expect(StreamFigures(["text": .string("no timing")]) == nil)
    }

    @Test("a run's page: every step as a cell, rewritten after each step, secrets redacted, resources from the ledger, the token chart")
    func runPage() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-record-html")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cloud = dir.appendingPathComponent("cloud").path
        try FileManager.default.createDirectory(atPath: cloud, withIntermediateDirectories: true)
        let registry = StepRegistry([
            ArnResourceKind(cloud: cloud), DeleteKind(cloud: cloud), PropertiesKind(), SayKind(), PeekKind(), StreamKind(),
        ])
        let recipe = try RecipeLoader(kinds: registry.schemas).parse(
            text: """
                name: paged
                secrets:
                  token: env:SOUS_TEST_TOKEN
                steps:
                  - id: keep
                    name: An endpoint left running
                    uses: test.endpoint
                    with: {base: kept}
                  - id: temp
                    uses: test.endpoint
                    with: {base: temp}
                  - id: props
                    uses: test.properties
                    with: {text: "engine=Python\\noption.token=${{ secrets.token }}\\n"}
                  - id: say
                    uses: test.say
                    with: {message: "the token is ${{ secrets.token }} </pre><script>alert(1)</script>"}
                  - id: peek
                    uses: test.peek
                  - id: ask
                    uses: test.stream
                  - id: drop
                    uses: test.delete
                    with: {name: "${{ steps.temp.outputs.name }}"}
                """, path: "paged.yaml", defaultName: "paged")
        let engine = Engine(registry: registry, workspaceRoot: dir.appendingPathComponent("ws").path)
        var options = RunOptions()
        options.environment = ["SOUS_TEST_TOKEN": Self.secret, "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"]
        let result = try await engine.run(recipe, params: [:], options: options)
        #expect(result.status == .succeeded)

        let html = try String(contentsOfFile: result.recordPath + "/record.html", encoding: .utf8)
        let page = try RecordPage(html)
        #expect(!html.contains(Self.secret))
        #expect(page.all("script").isEmpty)
        #expect(page.references.allSatisfy { !$0.contains("://") }, "\(page.references)")
        #expect(page.all("span", class: "badge").first?.text == "succeeded")
        #expect(page.all("dd").contains { $0.text == "local (http://127.0.0.1:4566)" })

        let cells = page.all("section", class: "cell")
        #expect(cells.map { $0.attributes["data-step"] ?? "" } == ["keep", "temp", "props", "say", "peek", "ask", "drop"])
        #expect(cells.allSatisfy { $0.attributes["data-status"] == "ran" })
        #expect(cells[0].text.contains("An endpoint left running"))
        #expect(cells[0].text.contains("no previous run"))
        // The page was rewritten after each step: while `peek` ran, it held the four steps before it.
        #expect(page.all("tr").contains { $0.step == "peek" && $0.text == "cells4" })
        // The secret is redacted in the inputs, the output, the outputs and the serving.properties file.
        let say = try #require(cells.first { $0.attributes["data-step"] == "say" })
        #expect(say.text.contains("the token is *** </pre><script>alert(1)</script>"))
        let file = try #require(page.all("figure", class: "file").first)
        #expect(file.step == "props")
        #expect(file.text.contains("serving.properties"))
        #expect(file.text.contains("option.token=***"))

        // Resources: the kept endpoint exists, the deleted one is marked so, with their ARNs.
        let rows = page.all("tr").filter { $0.ancestors.contains("tbody") && $0.text.contains("test.endpoint") }
        #expect(rows.count == 2)
        #expect(rows.contains { $0.text.contains("kept-\(result.runID)") && $0.text.contains("exists") && $0.text.contains("arn:aws:sagemaker") })
        #expect(rows.contains { $0.text.contains("temp-\(result.runID)") && $0.text.contains("deleted") })

        // The streamed answer: its text, the numbers, one mark per token, the gap.
        let marks = page.all("circle", class: "tok")
        #expect(marks.count == StreamKind.arrivals.count)
        #expect(marks.allSatisfy { $0.step == "ask" })
        let stat = { (key: String) in page.elements.first { $0.attributes["data-stat"] == key }?.text }
        #expect(stat("ttft") == "120 ms")
        #expect(stat("tps") == "86.4")
        #expect(stat("gap") == "158 ms")
        #expect(page.all("pre", class: "answer").first?.text == "Once upon a time, <there> was a \"tiny\" model & a cloud.")
        #expect(page.all("rect", class: "gap").count == 1)
    }

    @Test("a failed run's page shows the failed step's error (redacted) and the run's status")
    func failedRun() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-record-html")
        defer { try? FileManager.default.removeItem(at: dir) }
        let registry = StepRegistry([SayKind()])
        let recipe = try RecipeLoader(kinds: registry.schemas).parse(
            text: """
                name: failing
                secrets:
                  token: env:SOUS_TEST_TOKEN
                steps:
                  - id: hello
                    uses: test.say
                    with: {message: hello}
                  - id: broken
                    uses: test.say
                    with: {message: "bad ${{ secrets.token }}", fail: true}
                  - id: never
                    uses: test.say
                    with: {message: unreached}
                """, path: "failing.yaml", defaultName: "failing")
        let engine = Engine(registry: registry, workspaceRoot: dir.appendingPathComponent("ws").path)
        var options = RunOptions()
        options.environment = ["SOUS_TEST_TOKEN": Self.secret, "AWS_REGION": "eu-west-1"]
        let result = try await engine.run(recipe, params: [:], options: options)
        #expect(result.status == .failed)
        let html = try String(contentsOfFile: result.recordPath + "/record.html", encoding: .utf8)
        let page = try RecordPage(html)
        #expect(!html.contains(Self.secret))
        #expect(page.all("section", class: "cell").map { $0.attributes["data-status"] ?? "" } == ["ran", "failed"])
        #expect(page.all("pre", class: "error").contains { $0.step == "broken" && $0.text == "cannot say: bad ***" })
        #expect(page.all("p", class: "error").first?.text == "step 'broken' failed: cannot say: bad ***")
        #expect(page.all("span", class: "badge").first?.text == "failed")
        #expect(page.all("dd").contains { $0.text == "AWS (eu-west-1)" })
        #expect(page.all("section", class: "resources").isEmpty)
    }
}
