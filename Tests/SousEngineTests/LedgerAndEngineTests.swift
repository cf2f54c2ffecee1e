import Foundation
@testable import SousEngine
import SousRecipe
import SousTestSupport
import Synchronization
import Testing

/// A create kind standing in for a cloud resource: "resources" are files in a folder.
/// `crash_after_create: true` fails after the resource exists but before the ledger has the
/// result, which is what a crash (or kill -9) between the API call and the write looks like.
struct FakeResourceKind: StepKind {
    let cloud: String
    /// Counts create calls (a class so the kind stays a copyable value).
    final class Counter: Sendable { let value = Mutex(0) }
    let counter = Counter()
    static let configuration = StepKindConfiguration(name: "test.resource", version: 1, category: .create, summary: "a fake cloud resource")
    struct Inputs: StepInputs {
        @Input("base name") var base: String
        @Input(default: false, "fail after creating") var crashAfterCreate: Bool
    }
    struct Outputs: StepOutputs {
        @Output("the resource name") var name: String
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let name = ctx.pendingName(type: "fake") ?? "\(inputs.base)-\(ctx.runID)"
        let path = cloud + "/" + name
        let (attrs, _) = try await ctx.createResource(
            type: "fake", name: name, request: ResourceRequest(.map(["base": .string(inputs.base)])),
            find: { FileManager.default.fileExists(atPath: path) ? ["name": .string(name)] : nil },
            create: {
                counter.value.withLock { $0 += 1 }
                guard FileManager.default.createFile(atPath: path, contents: Data()) else { throw StepError("cannot create") }
                if inputs.crashAfterCreate { throw StepError("simulated crash") }
                return ["name": .string(name)]
            })
        var outputs = Outputs()
        outputs.name = attrs["name"]?.stringValue ?? ""
        return outputs
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        FileManager.default.fileExists(atPath: cloud + "/" + outputs.name) ? .valid : .invalid("resource \(outputs.name) no longer exists")
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws {
        try? FileManager.default.removeItem(atPath: cloud + "/" + resource.name)
    }
}

struct FakeTeardownKind: StepKind {
    let cloud: String
    static let configuration = StepKindConfiguration(name: "test.teardown", version: 1, category: .teardown, summary: "deletes a fake resource")
    struct Inputs: StepInputs {
        @Input("resource") var name: String
    }
    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> NoOutputs {
        try FileManager.default.removeItem(atPath: cloud + "/" + inputs.name)
        return NoOutputs()
    }
}

/// Collects events (thread-safe) for assertions.
final class EventLog: RunReporter, Sendable {
    let events = Mutex<[String]>([])
    func handle(_ event: RunEvent) {
        let line: String? =
            switch event {
            case .stepSkipped(_, _, let s, _, let r): "skip \(s): \(r)"
            case .stepFinished(_, _, let s, _, _, _): "ran \(s)"
            case .stepFailed(_, _, let s, _, _, let e): "failed \(s): \(e)"
            case .warning(_, let m): "warning: \(m)"
            default: nil
            }
        if let line { events.withLock { $0.append(line) } }
    }
    var lines: [String] { events.withLock { $0 } }
}

@Suite struct LedgerAndEngineTests {
    let dir: URL
    let cloud: String
    init() throws {
        dir = try TestPaths.makeTemporaryDirectory("sous-engine")
        cloud = dir.appendingPathComponent("cloud").path
        try FileManager.default.createDirectory(atPath: cloud, withIntermediateDirectories: true)
    }

    func engine(_ log: EventLog, kind: FakeResourceKind) -> Engine {
        Engine(registry: StepRegistry([kind, FakeTeardownKind(cloud: cloud)]), workspaceRoot: dir.appendingPathComponent("ws").path, reporter: log)
    }

    func recipe(_ text: String) throws -> Recipe {
        let kinds = StepRegistry([FakeResourceKind(cloud: cloud), FakeTeardownKind(cloud: cloud)]).schemas
        return try RecipeLoader(kinds: kinds).parse(text: text, path: "r.yaml", defaultName: "r")
    }

    func cloudContents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: cloud).sorted() }

    @Test func interruptedCreateIsAdoptedNotDuplicated() async throws {
        let kind = FakeResourceKind(cloud: cloud)
        let log = EventLog()
        let e = engine(log, kind: kind)
        let crashing = try recipe("steps:\n  - id: make\n    uses: test.resource\n    with: {base: ep, crash_after_create: true}\n")
        let first = try await e.run(crashing, params: [:], options: RunOptions())
        #expect(first.status == .failed)
        #expect(try cloudContents().count == 1)
        let ledger = try ResourceLedger(path: e.layout(for: crashing).ledgerPath)
        #expect(ledger.entries.map(\.state) == [.intent])
        // The retry (same step, now without the crash) adopts the resource the first run made.
        let fixed = try recipe("steps:\n  - id: make\n    uses: test.resource\n    with: {base: ep}\n")
        let second = try await e.run(fixed, params: [:], options: RunOptions())
        #expect(second.status == .succeeded)
        #expect(try cloudContents().count == 1)
        #expect(kind.counter.value.withLock { $0 } == 1)
        let after = try ResourceLedger(path: e.layout(for: fixed).ledgerPath)
        #expect(after.entries.map(\.state) == [.created])
        #expect(after.entries[0].name == ledger.entries[0].name)
        // Cached while the resource exists; recreated (with a new name) once it is gone.
        let third = try await e.run(fixed, params: [:], options: RunOptions())
        #expect(third.status == .succeeded)
        #expect(log.lines.last == "skip make: cached")
        try FileManager.default.removeItem(atPath: cloud + "/" + after.entries[0].name)
        let plan = try await e.plan(fixed, params: [:], options: RunOptions())
        #expect(plan[0].willRun)
        #expect(plan[0].reason == "resource \(after.entries[0].name) no longer exists")
        _ = try await e.run(fixed, params: [:], options: RunOptions())
        #expect(try cloudContents().count == 1)
        // destroy goes through everything the ledger holds, including the entry whose resource
        // was deleted behind sous's back (kinds treat "already gone" as done).
        let destroyed = try await e.destroy(fixed, options: RunOptions())
        #expect(destroyed.count == 2)
        #expect(try cloudContents().isEmpty)
        #expect(try ResourceLedger(path: e.layout(for: fixed).ledgerPath).live.isEmpty)
    }

    @Test func teardownsRunLastInReverseOrderAndKeepSkipsThem() async throws {
        let log = EventLog()
        let e = engine(log, kind: FakeResourceKind(cloud: cloud))
        let r = try recipe("""
            steps:
              - id: one
                uses: test.resource
                with: {base: a}
              - id: del_one
                uses: test.teardown
                with: {name: "${{ steps.one.outputs.name }}"}
              - id: two
                uses: test.resource
                with: {base: b}
              - id: del_two
                uses: test.teardown
                with: {name: "${{ steps.two.outputs.name }}"}
            """)
        #expect(e.executionOrder(r).map(\.id) == ["one", "two", "del_two", "del_one"])
        var keep = RunOptions()
        keep.keep = true
        let kept = try await e.run(r, params: [:], options: keep)
        #expect(kept.status == .succeeded)
        #expect(try cloudContents().count == 2)
        #expect(log.lines.suffix(2) == ["skip del_two: kept (--keep)", "skip del_one: kept (--keep)"])
        let full = try await e.run(r, params: [:], options: RunOptions())
        #expect(full.status == .succeeded)
        #expect(try cloudContents().isEmpty)
        #expect(log.lines.suffix(4) == ["skip one: cached", "skip two: cached", "ran del_two", "ran del_one"])
        // After a teardown, the creates it undid run again.
        let plan = try await e.plan(r, params: [:], options: RunOptions())
        #expect(plan.map(\.willRun) == [true, true, true, true])
        #expect(plan[0].reason == "no previous run")
    }

    @Test func stateFileIsVersionedAndRejectsNewerFormats() throws {
        let layout = WorkspaceLayout(root: dir.appendingPathComponent("ws").path, recipe: "r")
        var s = RecipeState(recipe: "r")
        s.runs = []
        try s.save(layout)
        #expect(try RecipeState.load(layout).format == RecipeState.currentFormat)
        try #"{"format": 99, "recipe": "r"}"#.write(toFile: layout.statePath, atomically: true, encoding: .utf8)
        #expect(throws: WorkspaceError.self) { try RecipeState.load(layout) }
        try "{not json".write(toFile: layout.statePath, atomically: true, encoding: .utf8)
        do {
            _ = try RecipeState.load(layout)
            Issue.record("a damaged state file was accepted")
        } catch {
            #expect(String(describing: error).contains("is not a sous state file"))
        }
    }

    @Test func redactorHidesEveryLineOfMultiLineSecrets() {
        let r = Redactor(secrets: ["-----BEGIN KEY-----\nAAAAsecretline1\nBBBBsecretline2\n-----END KEY-----", "ab"])
        let text = "got AAAAsecretline1 and BBBBsecretline2 and ab"
        #expect(r.redact(text) == "got *** and *** and ab")
    }

    @Test("an append after a line cut by a crash starts on a new line; the cut line is skipped with a warning")
    func appendAfterATornLine() throws {
        let path = dir.appendingPathComponent("ledger.jsonl").path
        let ledger = try ResourceLedger(path: path)
        func entry(_ id: String, _ state: LedgerEntry.State) -> LedgerEntry {
            LedgerEntry(
                id: id, step: "make", kind: "test.resource", type: "fake", name: id, requestHash: "h", state: state, attributes: [:],
                runID: "r1", at: Date(timeIntervalSince1970: 1_000_000))
        }
        try ledger.append(entry("first", .created))
        // kill -9 in the middle of a write: half a line, no newline.
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data("{\"id\":\"torn\",\"step\":\"ma".utf8))
        try h.close()

        let next = try ResourceLedger(path: path)
        #expect(next.entries.map(\.id) == ["first"])
        #expect(next.warnings.count == 1)
        #expect(next.warnings.first?.contains("line 2") == true)
        try next.append(entry("second", .intent))

        let reread = try ResourceLedger(path: path)
        #expect(reread.entries.map(\.id) == ["first", "second"])
        #expect(reread.entries.last?.state == .intent)
        #expect(reread.warnings.count == 1)
    }

    @Test("a run says when the ledger holds a line cut by a crash")
    func runWarnsAboutATornLedgerLine() async throws {
        let log = EventLog()
        let e = engine(log, kind: FakeResourceKind(cloud: cloud))
        let r = try recipe("steps:\n  - id: make\n    uses: test.resource\n    with: {base: ep}\n")
        #expect(try await e.run(r, params: [:], options: RunOptions()).status == .succeeded)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: e.layout(for: r).ledgerPath))
        try h.seekToEnd()
        try h.write(contentsOf: Data("{\"id\":".utf8))
        try h.close()
        #expect(try await e.run(r, params: [:], options: RunOptions()).status == .succeeded)
        #expect(log.lines.contains { $0.hasPrefix("warning: ") && $0.contains("ledger.jsonl line 3 is incomplete") }, "\(log.lines)")
    }
}
