import Foundation
import SousTestSupport
import Testing

/// Every recipe in recipes/ runs end to end with `--local`, the model overridden to stories260K served by
/// a loopback Hub. Needs ../shared/models/stories260K-hf (skipped with a message otherwise).
@Suite("recipes/ on the local cloud", .serialized, .enabled(if: RecipeFixture.model != nil, "needs ../shared/models/stories260K-hf"))
struct RecipesOnLocalCloudTests {
    static var recipes: [URL] {
        let dir = TestPaths.packageRoot.appendingPathComponent("recipes")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
            .map { dir.appendingPathComponent($0) }
    }

    /// `-p` overrides for the params a recipe declares: the tiny model and fast polling.
    static func overrides(_ recipe: URL) -> [String] {
        let text = (try? String(contentsOf: recipe, encoding: .utf8)) ?? ""
        var out: [String] = []
        if text.contains("\n  model_id:") { out += ["-p", "model_id=local/stories260K"] }
        if text.contains("\n  poll_interval:") { out += ["-p", "poll_interval=0.2"] }
        return out
    }

    static func env(_ f: RecipeFixture, _ extra: [String: String] = [:]) -> [String: String] {
        f.env.merging(["HF_TOKEN": "hf_local_test", "SOUS_SAGEMAKER_ROLE": "arn:aws:iam::000000000000:role/local"].merging(extra) { $1 }) { $1 }
    }

    /// What the local cloud still holds: endpoints, models, configs and objects.
    static func leftovers(_ f: RecipeFixture) throws -> [String] {
        let s = try f.status()
        var out: [String] = []
        for e in s["endpoints"] as? [[String: Any]] ?? [] { out.append("endpoint \(e["name"] ?? "?")") }
        for m in s["models"] as? [String] ?? [] { out.append("model \(m)") }
        for c in s["endpointConfigs"] as? [String] ?? [] { out.append("config \(c)") }
        for b in s["buckets"] as? [[String: Any]] ?? [] where (b["objects"] as? Int ?? 0) > 0 { out.append("objects in \(b["name"] ?? "?")") }
        return out
    }

    /// A recipe still holding the `# PLACEHOLDER: an `ask` step …` comment gets a real
    /// `sagemaker.invoke-stream` step there (greedy "Once upon a time"); returns the copy and whether it asks.
    static func withAskStep(_ recipe: URL, in dir: URL) throws -> (URL, Bool) {
        let text = try String(contentsOf: recipe, encoding: .utf8)
        guard let start = text.range(of: "  # PLACEHOLDER: an `ask` step"),
            let expr = text[start.lowerBound...].range(of: #"\$\{\{ steps\.[A-Za-z0-9_]+\.outputs\.endpoint_name \}\}"#, options: .regularExpression)
        else { return (recipe, false) }
        var end = text[expr.upperBound...].firstIndex(of: "\n") ?? text.endIndex
        if end < text.endIndex { end = text.index(after: end) }
        let step = """
              - id: ask
                uses: sagemaker.invoke-stream
                with:
                  endpoint: \(text[expr])
                  prompt: Once upon a time
                  parameters: {max_new_tokens: 40}

            """
        let out = dir.appendingPathComponent(recipe.lastPathComponent)
        try (String(text[..<start.lowerBound]) + step + String(text[end...])).write(to: out, atomically: true, encoding: .utf8)
        return (out, true)
    }

    @Test("each recipe runs with --local and its clean-up leaves no endpoint, model, config or object", arguments: recipes)
    func recipeRuns(_ original: URL) throws {
        let f = try RecipeFixture(local: false, bigFileMiB: 0)
        defer { f.stop() }
        let (recipe, asks) = try Self.withAskStep(original, in: f.dir)
        let r = try SousBinary.run(
            ["run", "-y", "--local", recipe.path] + Self.overrides(recipe) + f.args, cwd: f.dir, env: Self.env(f))
        if asks {
            // Greedy decoding on the local endpoint reproduces transformers' story.
            #expect(r.stdout.contains(String(try RecipeFixture.goldenText().prefix(60))), "\(r.stdout)")
        }
        #expect(r.status == 0, "\(recipe.lastPathComponent):\n\(r.stdout)\n\(r.stderr)")
        #expect((r.stdout + r.stderr).contains("succeeded"))
        if (try? String(contentsOf: recipe, encoding: .utf8))?.contains("sagemaker.") == true {
            #expect(try Self.leftovers(f) == [], "\(recipe.lastPathComponent) left resources behind")
        }
    }

    @Test("kill -9 while llama2-tgi's endpoint is Creating; restart; the rerun adopts the endpoint and completes")
    func killDuringCreation() throws {
        let recipe = TestPaths.packageRoot.appendingPathComponent("recipes/llama2-tgi.yaml")
        guard FileManager.default.fileExists(atPath: recipe.path) else {
            print("skipped: recipes/llama2-tgi.yaml is absent")
            return
        }
        let f = try RecipeFixture(local: false, bigFileMiB: 0)
        defer { f.stop() }
        let args = ["run", "-y", "--local", recipe.path] + Self.overrides(recipe) + f.args
        let first = try SousBinary.start(args, cwd: f.dir, env: Self.env(f, ["SOUS_LOCAL_ENDPOINT_DELAY": "60"]))
        let endpoints = f.dataDir.appendingPathComponent("sagemaker/endpoints")
        #expect(waitUntil(timeout: 60) { ((try? FileManager.default.contentsOfDirectory(atPath: endpoints.path)) ?? []).contains { $0.hasSuffix(".json") } })
        try f.killServer()
        let r1 = first.wait()
        #expect(r1.status != 0)
        let r2 = try SousBinary.run(args, cwd: f.dir, env: Self.env(f))
        #expect(r2.status == 0, "\(r2.stdout)\n\(r2.stderr)")
        #expect(try Self.leftovers(f) == [])
    }
}
