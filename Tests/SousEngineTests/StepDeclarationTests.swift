import Foundation
@testable import SousEngine
import SousRecipe
import SousTestSupport
import Synchronization
import Testing

/// Inputs several test kinds share.
private struct SharedInputs: StepInputs {
    @Input("AWS region") var region: String?
    @Input(default: 30, "seconds between checks") var pollInterval: Double
}

/// A kind with one input of every sort: each name, type, default and role is written once, in `Inputs`.
private struct DeclaredKind: StepKind {
    static let configuration = StepKindConfiguration(name: "test.declared", version: 3, category: .pure, summary: "declares everything")
    struct Inputs: StepInputs {
        @Input(.path, "a folder to read") var source: String
        @Input(role: .outputPath, "where to write") var output: String
        @Input(default: false, "keep the top folder") var includeTopFolder: Bool
        @Input(allowed: ["auto", "gzip"], "how to compress") var compression: String?
        @Input(role: .readPaths, "more files read") var sources: [Value]?
        @Input("extra values") var tags: ValueMap?
        @InputGroup var shared: SharedInputs
    }
    struct Outputs: StepOutputs {
        @Output(.path, "the file written") var path: String
        @Output("seconds to the first token") var timeToFirstTokenS: Double?
    }
    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        var outputs = Outputs()
        outputs.path = try ctx.confinedPath(inputs.output)
        outputs.timeToFirstTokenS = nil
        return outputs
    }
}

/// Returns outputs that do not match what it declares, the ways a hand-written encoding can go wrong.
private struct WrongOutputsKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "test.wrong", version: 1, category: .pure, summary: "returns outputs unlike its declaration")
    struct Outputs: StepOutputs {
        @Output("a count") var count: Int
        @Output("a name") var name: String
        enum Written: String, CodingKey { case count, extraOutput }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Written.self)
            try c.encode("seven", forKey: .count)  // the wrong type
            try c.encode(Value.bool(true), forKey: .extraOutput)  // not declared; `name` is not written at all
        }
    }
    func run(_ inputs: NoInputs, _ ctx: StepContext) async throws -> Outputs { Outputs() }
}

/// Forgets to set one of its outputs.
private struct ForgetfulKind: StepKind {
    static let configuration = StepKindConfiguration(name: "test.forgetful", version: 1, category: .pure, summary: "sets one output of two")
    struct Outputs: StepOutputs {
        @Output("set") var first: String
        @Output("never set") var second: String
    }
    func run(_ inputs: NoInputs, _ ctx: StepContext) async throws -> Outputs {
        var outputs = Outputs()
        outputs.first = "here"
        return outputs
    }
}

/// Counts how often its service is made.
private enum CountedService: ServiceKey {
    static let made = Mutex(0)
    final class Box: Sendable {}
    static func makeValue() -> Box {
        made.withLock { $0 += 1 }
        return Box()
    }
}

@Suite struct StepDeclarationTests {
    @Test("a kind's schema comes from its declared inputs and outputs: names in snake_case, required unless optional or defaulted")
    func schemaFromDeclarations() {
        let s = DeclaredKind().schema
        #expect(s.kind == "test.declared" && s.version == 3 && s.category == .pure && s.summary == "declares everything")
        #expect(s.inputs.map(\.name) == ["source", "output", "include_top_folder", "compression", "sources", "tags", "region", "poll_interval"])
        #expect(s.inputs.map(\.type) == [.path, .string, .bool, .string, .list, .map, .string, .number])
        #expect(s.inputs.filter(\.required).map(\.name) == ["source", "output"])
        #expect(s.input("include_top_folder")?.defaultValue == .bool(false))
        #expect(s.input("poll_interval")?.defaultValue == .int(30))
        #expect(s.input("compression")?.allowed == ["auto", "gzip"])
        #expect(s.input("output")?.role == .outputPath && s.input("sources")?.role == .readPaths && s.input("tags")?.role == .value)
        #expect(s.input("region")?.description == "AWS region")
        #expect(s.outputs.map(\.name) == ["path", "time_to_first_token_s"])
        #expect(s.outputs.map(\.type) == [.path, .number])
    }

    @Test("resolved values decode into the declared struct; a missing required input or a wrong type names the input")
    func decoding() throws {
        let inputs = try DeclaredKind.Inputs(values: ["source": "/data", "output": "out.txt", "include_top_folder": true, "poll_interval": 5])
        #expect(inputs.source == "/data" && inputs.output == "out.txt" && inputs.includeTopFolder)
        #expect(inputs.compression == nil && inputs.tags == nil && inputs.shared.region == nil && inputs.shared.pollInterval == 5)
        #expect(throws: StepError("input 'output' is missing")) { try DeclaredKind.Inputs(values: ["source": "/data"]) }
        #expect(throws: StepError("input 'include_top_folder' must be a bool, got string")) {
            try DeclaredKind.Inputs(values: ["source": "/data", "output": "o", "include_top_folder": "yes"])
        }
        // Outputs round-trip through values; an optional output is recorded as null.
        var outputs = DeclaredKind.Outputs()
        outputs.path = "/w/out.txt"
        outputs.timeToFirstTokenS = nil
        let values = try outputs.values()
        #expect(values == ["path": "/w/out.txt", "time_to_first_token_s": .null])
        #expect(try DeclaredKind.Outputs(values: values).path == "/w/out.txt")
    }

    func runOnce(_ kind: any StepKind, id: String) async throws -> (RunResult, RecipeState) {
        let dir = try TestPaths.makeTemporaryDirectory("sous-declared")
        defer { try? FileManager.default.removeItem(at: dir) }
        let registry = StepRegistry([kind])
        let recipe = try RecipeLoader(kinds: registry.schemas).parse(
            text: "steps:\n  - id: \(id)\n    uses: \(kind.schema.kind)\n", path: "r.yaml", defaultName: "r")
        let engine = Engine(registry: registry, workspaceRoot: dir.path, reporter: EventLog())
        let result = try await engine.run(recipe, params: [:], options: RunOptions())
        return (result, try RecipeState.load(engine.layout(for: recipe)))
    }

    @Test("outputs that do not match the declaration fail the step, naming it, its place in the recipe and each mismatch")
    func wrongOutputsAreAnError() async throws {
        let (result, state) = try await runOnce(WrongOutputsKind(), id: "bad")
        #expect(result.status == .failed)
        let error = try #require(result.error)
        #expect(error.contains("r.yaml:2:"))
        #expect(error.contains("step 'bad'") && error.contains("test.wrong"))
        #expect(error.contains("output 'count' must be an int, got string"))
        #expect(error.contains("output 'name' is missing"))
        #expect(error.contains("output 'extra_output' is not declared"))
        #expect(state.steps["bad"] == nil)  // nothing recorded as done

        let (forgot, forgotState) = try await runOnce(ForgetfulKind(), id: "half")
        #expect(forgot.status == .failed)
        #expect(forgot.error?.contains("step 'half'") == true)
        #expect(forgot.error?.contains("output 'second' is missing") == true)
        #expect(forgot.error?.contains("'first'") == false)
        #expect(forgotState.steps["half"] == nil)
    }

    @Test("a service is made once per run's services, even when steps ask at the same time")
    func servicesAreTyped() async {
        let services = Services()
        let before = CountedService.made.withLock { $0 }
        let boxes = await withTaskGroup(of: CountedService.Box.self) { group in
            for _ in 0..<16 { group.addTask { services[CountedService.self] } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(CountedService.made.withLock { $0 } == before + 1)
        #expect(boxes.allSatisfy { $0 === boxes[0] })
    }
}
