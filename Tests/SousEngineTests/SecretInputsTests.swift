import Foundation
@testable import SousEngine
import SousRecipe
import SousTestSupport
import Synchronization
import Testing

/// Shows its input: prints it, logs it, returns it (redacted, as kinds do), and lists it in `sous plan`.
private struct ShowKind: StepKind {
    static let configuration = StepKindConfiguration(name: "test.show", version: 1, category: .pure, summary: "shows a text")
    struct Inputs: StepInputs {
        @Input(default: "fallback", "the text") var text: String
    }
    struct Outputs: StepOutputs {
        @Output("the text shown") var shown: String
    }
    func planDetails(_ inputs: Inputs) -> [String] { ["text: \(inputs.text)"] }
    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        ctx.write(inputs.text + "\n")
        ctx.log("showing \(inputs.text)")
        var outputs = Outputs()
        outputs.shown = ctx.redact(inputs.text)
        return outputs
    }
}

/// Collects everything the engine reports, as the terminal would show it.
private final class Transcript: RunReporter, Sendable {
    let text = Mutex("")
    func handle(_ event: RunEvent) {
        text.withLock { $0 += "\(event)\n" }
    }
}

@Suite struct SecretInputsTests {
    let dir: URL
    let registry = StepRegistry([ShowKind()])
    init() throws { dir = try TestPaths.makeTemporaryDirectory("sous-secret-inputs") }

    func recipe(_ text: String) throws -> Recipe {
        try RecipeLoader(kinds: registry.schemas).parse(text: text, path: "r.yaml", defaultName: "r")
    }

    /// Every file under the workspace, as text.
    func workspaceText() throws -> String {
        var out = ""
        let root = dir.appendingPathComponent("ws")
        for case let rel as String in FileManager.default.enumerator(atPath: root.path)?.allObjects ?? [] {
            if let d = FileManager.default.contents(atPath: root.appendingPathComponent(rel).path) { out += String(decoding: d, as: UTF8.self) }
        }
        return out
    }

    @Test("${{ env.NAME }} with a secret-sounding name is masked in plans, state, change reasons, records and output")
    func secretNamedEnvironmentValues() async throws {
        let value = "env-canary-Value-7781"
        let r = try recipe("steps:\n  - id: show\n    uses: test.show\n    with: {text: \"v=${{ env.MY_API_TOKEN }} r=${{ env.MY_REGION }}\"}\n")
        let out = Transcript()
        let engine = Engine(registry: registry, workspaceRoot: dir.appendingPathComponent("ws").path, reporter: out)
        var options = RunOptions()
        options.environment = ["MY_API_TOKEN": value, "MY_REGION": "eu-west-3"]

        let plan = try await engine.plan(r, params: [:], options: options)
        #expect(plan[0].details == ["text: v=*** r=eu-west-3"])
        #expect(try await engine.run(r, params: [:], options: options).status == .succeeded)

        let state = try String(contentsOfFile: engine.layout(for: r).statePath, encoding: .utf8)
        #expect(state.contains("«env:MY_API_TOKEN:"), "the fingerprint keeps a keyed hash: \(state)")
        #expect(state.contains("eu-west-3"))

        options.environment["MY_API_TOKEN"] = "env-canary-Other-9902"
        let changed = try await engine.plan(r, params: [:], options: options)
        #expect(changed[0].willRun)
        #expect(changed[0].reason.hasPrefix("input 'text' changed: \"v=***(env.MY_API_TOKEN) r=eu-west-3\""), "\(changed[0].reason)")
        #expect(try await engine.run(r, params: [:], options: options).status == .succeeded)

        let everything = try workspaceText() + out.text.withLock { $0 } + changed[0].reason
        for leaked in [value, "env-canary-Other-9902"] {
            #expect(!everything.contains(leaked), "\(leaked) leaked")
        }
        #expect(everything.contains("v=*** r=eu-west-3"))
    }

    @Test("an absent optional secret leaves its input out, so the kind's default applies, and plan says so")
    func absentOptionalSecretFallsBackToTheDefault() async throws {
        let r = try recipe(
            """
            secrets:
              opt: {from: env:SOUS_TEST_ABSENT_OPTIONAL, required: false}
            steps:
              - id: show
                uses: test.show
                with: {text: "${{ secrets.opt }}"}
            """)
        let engine = Engine(registry: registry, workspaceRoot: dir.appendingPathComponent("ws").path, reporter: Transcript())
        var options = RunOptions()
        options.environment = [:]
        let plan = try await engine.plan(r, params: [:], options: options)
        #expect(plan[0].details == ["text: fallback", "input 'text' left out: an optional secret it uses is not set"])
        #expect(try await engine.run(r, params: [:], options: options).status == .succeeded)
        let state = try RecipeState.load(engine.layout(for: r))
        #expect(state.steps["show"]?.outputs["shown"] == "fallback")
    }

    @Test("which environment variable names say they hold a secret")
    func secretNames() {
        for name in ["HF_TOKEN", "GITHUBTOKEN", "my_api_token", "DB_PASSWORD", "CLIENT_SECRET", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "API_KEY", "OPENAI_APIKEY", "BASIC_AUTH", "GOOGLE_APPLICATION_CREDENTIALS", "SSH_PRIVATE_KEY", "SMTP_PASS"] {
            #expect(SecretNames.isSecret(name), "\(name)")
        }
        for name in ["HOME", "PATH", "PWD", "AWS_REGION", "KEYBOARD_LAYOUT", "MONKEY_COUNT", "HF_HOME", "MODEL_ID", "PASSAGE"] {
            #expect(!SecretNames.isSecret(name), "\(name)")
        }
    }
}
