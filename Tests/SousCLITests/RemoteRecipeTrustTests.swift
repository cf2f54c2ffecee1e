import Foundation
import SousEngine
import SousRecipe
import SousSteps
import SousTestSupport
import Synchronization
import Testing

/// A billable resource stand-in: a create step whose "endpoint" is a file in a folder.
struct FakeEndpointKind: StepKind {
    let cloud: String
    static let configuration = StepKindConfiguration(name: "test.endpoint", version: 1, category: .create, summary: "a fake endpoint")
    struct Inputs: StepInputs {
        @Input("endpoint name") var name: String
        @Input("instance type") var instanceType: String
    }
    struct Outputs: StepOutputs {
        @Output("the endpoint name") var name: String
    }

    func planDetails(_ inputs: Inputs) -> [String] { ["\(inputs.instanceType) × 1"] }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let path = cloud + "/" + inputs.name
        _ = try await ctx.createResource(
            type: "endpoint", name: inputs.name, request: ResourceRequest(.map(["name": .string(inputs.name)])),
            find: { FileManager.default.fileExists(atPath: path) ? ["name": .string(inputs.name)] : nil },
            create: {
                guard FileManager.default.createFile(atPath: path, contents: Data(inputs.instanceType.utf8)) else { throw StepError("cannot create") }
                return ["name": .string(inputs.name)]
            })
        var outputs = Outputs()
        outputs.name = inputs.name
        return outputs
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        FileManager.default.fileExists(atPath: cloud + "/" + outputs.name) ? .valid : .invalid("gone")
    }
}

/// A recipe fetched from a URL asks before each resource it creates (remembered per recipe, step and
/// resolved inputs); a local recipe does not. Driven through the Engine API with a recipe whose file is
/// recorded as a URL, as the URL loader records it.
@Suite struct RemoteRecipeTrustTests {
    let dir: URL
    let cloud: String
    let registry: StepRegistry

    init() throws {
        dir = try TestPaths.makeTemporaryDirectory("sous-remote-trust")
        cloud = dir.appendingPathComponent("cloud").path
        try FileManager.default.createDirectory(atPath: cloud, withIntermediateDirectories: true)
        var r = BuiltinSteps.registry()
        r.register(FakeEndpointKind(cloud: cloud))
        registry = r
    }

    static let text = """
        name: remote
        params:
          size: {type: string, default: ml.g5.2xlarge}
        steps:
          - id: note
            uses: file.write
            with: {path: note.txt, content: hi}
          - id: endpoint
            uses: test.endpoint
            with:
              name: chat-endpoint
              instance_type: ${{ params.size }}
          - id: hello
            uses: shell
            with:
              command: echo hello
        """

    func recipe(remote: Bool) throws -> Recipe {
        var r = try RecipeLoader(kinds: registry.schemas).parse(text: Self.text, path: dir.appendingPathComponent("r.yaml").path, defaultName: "r")
        if remote {
            r.path = "https://example.com/recipes/r.yaml"
            r.sources[0].path = r.path
        }
        return r
    }

    /// Runs once; `answer` replies to every question. Returns the result and the questions asked.
    func run(_ recipe: Recipe, size: String? = nil, answer: Bool, yes: Bool = false, force: Bool = false) async throws -> (RunResult, [String]) {
        let asked = Mutex<[String]>([])
        var options = RunOptions()
        options.assumeYes = yes
        options.force = force
        options.confirm = { prompt in
            asked.withLock { $0.append(prompt) }
            return answer
        }
        let engine = Engine(registry: registry, workspaceRoot: dir.appendingPathComponent("workspace").path)
        let params = try recipe.resolveParams(overrides: size.map { [("size", $0)] } ?? [])
        let result = try await engine.run(recipe, params: params, options: options)
        return (result, asked.withLock { $0 })
    }

    var created: [String] { (try? FileManager.default.contentsOfDirectory(atPath: cloud)) ?? [] }

    @Test func aRemoteRecipeAsksBeforeEachCreateAndRemembersTheAnswer() async throws {
        let recipe = try recipe(remote: true)
        #expect(recipe.isRemote)
        let (refused, asked) = try await run(recipe, answer: false)
        #expect(refused.status == .failed)
        #expect(asked == [
            """
            step 'endpoint' of recipe remote (https://example.com/recipes/r.yaml, fetched from a URL) creates a resource with test.endpoint (billed to the AWS account it runs against):
              ml.g5.2xlarge × 1
              name: chat-endpoint
              instance_type: ml.g5.2xlarge
            Create it?
            """
        ])
        #expect(created.isEmpty)
        // Yes: created, and the command after it is asked about too.
        let (ok, asked2) = try await run(recipe, answer: true)
        #expect(ok.status == .succeeded, "\(ok.error ?? "")")
        #expect(asked2.count == 2)
        #expect(asked2.last?.hasPrefix("step 'hello' of recipe remote (https://example.com/recipes/r.yaml, fetched from a URL) runs on this machine:\n  $ echo hello") == true)
        #expect(created == ["chat-endpoint"])
        // The same create again (forced): remembered, not asked.
        let (again, asked3) = try await run(recipe, answer: false, force: true)
        #expect(again.status == .succeeded, "\(again.error ?? "")")
        #expect(asked3.isEmpty)
        // Other resolved inputs: asked again.
        let (bigger, asked4) = try await run(recipe, size: "ml.g5.48xlarge", answer: false)
        #expect(bigger.status == .failed)
        #expect(asked4.count == 1)
        #expect(asked4.first?.contains("instance_type: ml.g5.48xlarge") == true)
        // --yes answers.
        let (yes, asked5) = try await run(recipe, size: "ml.g5.48xlarge", answer: false, yes: true)
        #expect(yes.status == .succeeded, "\(yes.error ?? "")")
        #expect(asked5.isEmpty)
    }

    @Test func aLocalRecipeCreatesWithoutAsking() async throws {
        let (ok, asked) = try await run(try recipe(remote: false), answer: false, yes: false)
        // Only the command is asked about (and refused here): the create ran before it without a question.
        #expect(asked.count == 1)
        #expect(asked.first?.contains("runs on this machine") == true)
        #expect(ok.status == .failed)
        #expect(created == ["chat-endpoint"])
    }
}
