import Foundation
import SousTestSupport
import Testing

/// The record.html of a run on the local cloud with the real tiny Llama: serving.properties, a TGI endpoint
/// from the loopback Hub, a streamed answer, the clean-up. Needs ../shared/models/stories260K-hf.
@Suite("record.html of a run on the local cloud", .serialized, .enabled(if: RecipeFixture.model != nil, "needs ../shared/models/stories260K-hf"))
struct RunRecordPageTests {
    static let recipe = """
        name: report-local
        secrets:
          hf_token: env:HF_TOKEN
        steps:
          - id: properties
            name: Write serving.properties
            uses: file.write
            with:
              path: code/serving.properties
              properties:
                - engine: Python
                - option.model_id: local/stories260K
                - option.hf_token: ${{ secrets.hf_token }}
          - id: image
            uses: sagemaker.image-uri
            with: {framework: huggingface-llm, version: "1.0.3"}
          - id: deploy
            name: Deploy the tiny Llama
            uses: sagemaker.deploy
            with:
              image: ${{ steps.image.outputs.image }}
              env: {HF_MODEL_ID: local/stories260K, HUGGING_FACE_HUB_TOKEN: "${{ secrets.hf_token }}"}
              instance_type: ml.g5.2xlarge
              instance_count: 1
              base_name: report-ep
              poll_interval: 0.2
          - id: ask
            uses: sagemaker.invoke-stream
            with:
              endpoint: ${{ steps.deploy.outputs.endpoint_name }}
              prompt: Once upon a time
              parameters: {max_new_tokens: 40}
          - id: cleanup
            uses: sagemaker.delete
            with:
              endpoint_name: ${{ steps.deploy.outputs.endpoint_name }}
        """

    /// The run's environment: the loopback Hub of the fixture, a token to redact, a role.
    static func env(_ f: RecipeFixture) -> [String: String] {
        f.env.merging(["HF_TOKEN": "hf_local_test_secret", "SOUS_SAGEMAKER_ROLE": "arn:aws:iam::000000000000:role/local"]) { $1 }
    }

    /// Runs the recipe with `--local`; returns the fixture (stop it) and the run's folder.
    static func run() throws -> (RecipeFixture, URL) {
        let f = try RecipeFixture(local: false, bigFileMiB: 0)
        let recipe = f.dir.appendingPathComponent("report-local.yaml")
        try Self.recipe.write(to: recipe, atomically: true, encoding: .utf8)
        let r = try SousBinary.run(["run", "-y", "--local", recipe.path] + f.args, cwd: f.dir, env: Self.env(f))
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let report = try SousBinary.run(["report"] + f.args, cwd: f.dir, env: f.env)
        #expect(report.status == 0, "\(report.stderr)")
        let page = URL(fileURLWithPath: report.stdout.trimmingCharacters(in: .newlines))
        return (f, page.deletingLastPathComponent())
    }

    @Test("the page parses as XML; steps, resources, serving.properties, the answer and one chart mark per token; no secret, nothing remote")
    func page() throws {
        let (f, runDir) = try Self.run()
        defer { f.stop() }
        let html = try String(contentsOf: runDir.appendingPathComponent("record.html"), encoding: .utf8)
        let page = try RecordPage(html)
        let secret = try #require(Self.env(f)["HF_TOKEN"])
        #expect(!html.contains(secret))
        #expect(!html.contains(f.env["AWS_SECRET_ACCESS_KEY"] ?? "no secret key given"))
        for ref in page.references {
            #expect(!ref.lowercased().contains("http:") && !ref.lowercased().contains("https:") && !ref.hasPrefix("//"), "remote reference \(ref)")
        }
        #expect(page.all("script").isEmpty)
        #expect(page.all("link").isEmpty)
        #expect(page.all("img").isEmpty)
        #expect(page.all("span", class: "badge").first?.text == "succeeded")
        #expect(page.all("dd").contains { $0.text.hasPrefix("local (http://127.0.0.1:") })

        let cells = page.all("section", class: "cell")
        #expect(cells.map { $0.attributes["data-step"] ?? "" } == ["properties", "image", "deploy", "ask", "cleanup"])
        #expect(cells.map { $0.attributes["data-status"] ?? "" } == ["ran", "ran", "ran", "ran", "ran"])
        let file = try #require(page.all("figure", class: "file").first)
        #expect(file.step == "properties")
        #expect(file.text.contains("option.model_id=local/stories260K"))
        #expect(file.text.contains("option.hf_token=***"))

        // The deploy step's model, config and endpoint, with ARNs, all deleted by the clean-up.
        let rows = page.all("tr").filter { $0.text.contains("sagemaker.") && $0.text.contains("arn:aws:sagemaker:") }
        #expect(rows.count == 3, "\(rows.map(\.text))")
        #expect(rows.allSatisfy { $0.text.hasSuffix("deleted") && $0.text.contains("deploy") })

        // The answer: the recorded outputs, charted with one mark per token.
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: runDir.appendingPathComponent("record.json"))) as? [String: Any]
        let steps = record?["steps"] as? [[String: Any]] ?? []
        let outputs = try #require(steps.first { $0["id"] as? String == "ask" }?["outputs"] as? [String: Any])
        let arrivals = try #require(outputs["arrivals_ms"] as? [Double])
        #expect(arrivals.count > 10)
        #expect(arrivals == arrivals.sorted())
        let text = try #require(outputs["text"] as? String)
        #expect(try RecipeFixture.goldenText().hasPrefix(text) || text.hasPrefix(String(try RecipeFixture.goldenText().prefix(40))))
        let marks = page.all("circle", class: "tok")
        #expect(marks.count == arrivals.count)
        #expect(marks.allSatisfy { $0.step == "ask" })
        #expect(page.all("svg", class: "tokens").count == 1)
        #expect(page.all("pre", class: "answer").first?.text == text)
        let ttft = try #require(page.elements.first { $0.attributes["data-stat"] == "ttft" }?.text)
        let ttftMs = (outputs["time_to_first_token_s"] as? Double ?? -1) * 1000
        #expect(ttft.hasSuffix(" ms") || ttft.hasSuffix(" s"), "\(ttft)")
        #expect(abs((Double(ttft.split(separator: " ")[0]) ?? -1) * (ttft.hasSuffix(" s") ? 1000 : 1) - ttftMs) <= max(1, ttftMs * 0.01), "\(ttft) vs \(ttftMs)")
        #expect(page.elements.contains { $0.attributes["data-stat"] == "gap" })
    }

    @Test(
        "Chromium shows the page without a console error or failed request; the chart and every cell are visible",
        .enabled(if: BrowserCheck.available, "needs /usr/bin/chromium and Python's playwright (SOUS_TEST_DEPS=1 scripts/bootstrap.sh)"))
    func browser() throws {
        let (f, runDir) = try Self.run()
        defer { f.stop() }
        let shot = f.dir.appendingPathComponent("record.png")
        let check = try BrowserCheck.run(page: runDir.appendingPathComponent("record.html"), screenshot: shot)
        #expect(check.status == 0, "\(check.output)")
        #expect((check.result["steps"] as? [Any])?.count == 5)
        #expect((check.result["marks"] as? [Int])?.first ?? 0 > 10, "\(check.output)")
        #expect(FileManager.default.fileExists(atPath: shot.path))
    }
}
