import Foundation
import SousEngine
import SousRecipe
import SousTestSupport
import Synchronization
import Testing

/// A pure kind whose output is its input; counts its runs.
private struct EchoKind: StepKind {
    final class Counter: Sendable { let value = Mutex(0) }
    let runs = Counter()
    static let configuration = StepKindConfiguration(name: "test.echo", version: 1, category: .pure, summary: "echoes its input")
    struct Inputs: StepInputs {
        @Input("what to echo") var text: String
    }
    struct Outputs: StepOutputs {
        @Output("the same text") var text: String
    }
    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        runs.value.withLock { $0 += 1 }
        var outputs = Outputs()
        outputs.text = inputs.text
        return outputs
    }
}

/// `plan` is the walk `run` makes, without executing: it predicts what the run does and writes nothing.
@Suite struct StepWalkTests {
    @Test("plan writes nothing, and says what the next run does")
    func planPredictsTheRun() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-walk")
        defer { try? FileManager.default.removeItem(at: dir) }
        let kind = EchoKind()
        let registry = StepRegistry([kind])
        func recipe(_ text: String) throws -> Recipe {
            try RecipeLoader(kinds: registry.schemas).parse(
                text: """
                    steps:
                      - id: a
                        uses: test.echo
                        with: {text: \(text)}
                      - id: b
                        uses: test.echo
                        with: {text: "${{ steps.a.outputs.text }}!"}
                    """, path: "r.yaml", defaultName: "r")
        }
        let root = dir.appendingPathComponent("ws").path
        let engine = Engine(registry: registry, workspaceRoot: root, reporter: EventLog())
        let first = try recipe("hello")

        // A fresh workspace: step b's upstream has not run, so b cannot be resolved, and runs after a.
        let fresh = try await engine.plan(first, params: [:], options: RunOptions())
        #expect(fresh.map(\.willRun) == [true, true])
        #expect(fresh.map(\.reason) == ["no previous run", "upstream step 'a' runs first"])
        #expect(!FileManager.default.fileExists(atPath: root))  // no state, no key, nothing

        #expect(try await engine.run(first, params: [:], options: RunOptions()).status == .succeeded)
        #expect(kind.runs.value.withLock { $0 } == 2)
        #expect(try await engine.plan(first, params: [:], options: RunOptions()).map(\.reason) == ["up to date", "up to date"])

        // a changes; b's inputs come from a's new outputs, which the plan cannot know yet.
        let second = try recipe("world")
        let changed = try await engine.plan(second, params: [:], options: RunOptions())
        #expect(changed.map(\.willRun) == [true, true])
        #expect(changed[0].reason == "input 'text' changed: \"hello\" → \"world\"")
        #expect(changed[1].reason == "upstream step 'a' runs first (its outputs may change)")
        #expect(try await engine.run(second, params: [:], options: RunOptions()).status == .succeeded)
        #expect(kind.runs.value.withLock { $0 } == 4)

        // --step b alone: a is not selected, b is asked for.
        var only = RunOptions()
        only.selection = .step("b")
        let selected = try await engine.plan(second, params: [:], options: only)
        #expect(selected.map(\.reason) == ["not selected", "asked for (--step b)"])
    }
}
