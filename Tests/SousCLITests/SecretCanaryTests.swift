import Foundation
import SousTestSupport
import Testing

/// A canary secret (and a canary in a secret-named environment variable) given to every step kind that can
/// take one, through every command that can run offline on the local cloud: neither canary, in any of its
/// forms (``SecretForms``), is found in any output or in any file sous, the local cloud or the Hugging Face
/// cache wrote. The one file holding it is the one the recipe asks for (`file.write` of a properties file).
@Suite(.serialized) struct SecretCanaryTests {
    let dir: URL
    static let canary = "cAn4ry/Sec+ret\"val x9-Tok3n"
    static let envCanary = "eNv-c4nary+Api/t0ken-5521"

    init() throws { dir = try TestPaths.makeTemporaryDirectory("sous-canary") }

    static let recipe = """
        name: canary
        local: true
        secrets:
          token: {from: env:SOUS_CANARY_TOKEN}
        steps:
          - id: show
            uses: print
            with:
              message: "token=${{ secrets.token }} env=${{ env.CANARY_API_TOKEN }}"
              values: {t: "${{ secrets.token }}"}
          - id: encode
            uses: shell
            with:
              env: {TOKEN: "${{ secrets.token }}", API: "${{ env.CANARY_API_TOKEN }}"}
              command: |
                printf '%s\\n' "$TOKEN" "$API"
                printf '%s' "$TOKEN" | base64
                printf 'a%s' "$TOKEN" | base64
                printf 'ab%s' "$TOKEN" | base64
                printf '%s' "$API" | base64
                printf '%s' "$TOKEN" | python3 -c 'import json, sys; print(json.dumps(sys.stdin.read()))'
                printf '%s' "$TOKEN" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))'
                echo "${{ env.CANARY_API_TOKEN }}" >&2
          - id: props
            uses: file.write
            with:
              path: code/serving.properties
              properties:
                - engine: Python
                - option.hf_token: "${{ secrets.token }}"
          - id: snapshot
            uses: hf.snapshot
            with: {repo_id: "${{ env.CANARY_MODEL }}", token: "${{ secrets.token }}"}
          - id: image
            uses: sagemaker.image-uri
            with: {framework: huggingface-llm, version: "2.0.2"}
          - id: endpoint
            uses: sagemaker.deploy
            with:
              image: ${{ steps.image.outputs.image }}
              env:
                HF_MODEL_ID: ${{ steps.snapshot.outputs.path }}
                HUGGING_FACE_HUB_TOKEN: ${{ secrets.token }}
                API_TOKEN: ${{ env.CANARY_API_TOKEN }}
              instance_type: ml.g5.2xlarge
              base_name: canary
              poll_interval: 0.1
          - id: ask
            uses: sagemaker.invoke-stream
            with:
              endpoint: ${{ steps.endpoint.outputs.endpoint_name }}
              container: ${{ steps.image.outputs.image }}
              prompt: Once upon a time
              parameters: {max_new_tokens: 8}
              custom_attributes: "accept_eula=true;token=${{ secrets.token }}"
          - id: cleanup
            uses: sagemaker.delete
            with: {endpoint_name: "${{ steps.endpoint.outputs.endpoint_name }}"}
        """

    /// A run that fails on a command that prints the secret, and whose error shows the command's last lines.
    static let failing = """
        name: canary-fails
        secrets:
          token: {from: env:SOUS_CANARY_TOKEN}
        steps:
          - id: leak
            uses: shell
            with:
              env: {TOKEN: "${{ secrets.token }}"}
              command: |
                printf 'about to fail with %s\\n' "$TOKEN"
                printf '%s' "$TOKEN" | base64
                exit 3
        """

    @Test("no form of a canary secret in any output or file, across run, plan, status, report, destroy and a failure")
    func canaryIsNowhere() throws {
        try Self.recipe.write(to: dir.appendingPathComponent("canary.yaml"), atomically: true, encoding: .utf8)
        try Self.failing.write(to: dir.appendingPathComponent("fails.yaml"), atomically: true, encoding: .utf8)
        let model = TestPaths.packageRoot.appendingPathComponent("recipes/models/stories260K").path
        let env = [
            "SOUS_CANARY_TOKEN": Self.canary, "CANARY_API_TOKEN": Self.envCanary, "CANARY_MODEL": model,
            "HF_HUB_CACHE": dir.appendingPathComponent("hf").path, "HF_HUB_OFFLINE": "1",
        ]
        var outputs: [String] = []
        func sous(_ args: String..., status expected: Int32 = 0) throws {
            let r = try SousBinary.run(args, cwd: dir, env: env)
            #expect(r.status == expected, "sous \(args.joined(separator: " ")): \(r.stdout)\n\(r.stderr)")
            outputs.append("$ sous \(args.joined(separator: " "))\n" + r.stdout + r.stderr)
        }
        try sous("validate", "canary.yaml")
        try sous("plan", "canary.yaml")
        try sous("plan", "canary.yaml", "--json")
        // Kept up: the local cloud still holds the model, config and endpoint (their records are looked at too).
        try sous("run", "canary.yaml", "--yes", "--keep")
        try sous("local", "status")
        try sous("local", "logs")
        let whileUp = SecretMaskingTests.files(under: dir)
        #expect(whileUp.keys.contains { $0.hasPrefix("workspace/.sous/local-cloud/data/sagemaker/models/") }, "\(whileUp.keys.sorted())")
        try sous("run", "canary.yaml", "--yes", "--json", "--force")
        try sous("plan", "canary.yaml")
        try sous("status", "canary")
        try sous("status", "canary", "--json")
        try sous("report", "--recipe", "canary")
        try sous("destroy", "canary.yaml", "--yes")
        try sous("local", "stop")
        try sous("run", "fails.yaml", "--yes", status: 1)
        try sous("status", "--json")
        let terminal = outputs.joined(separator: "\n")
        #expect(terminal.contains("token=*** env=***"), "\(terminal)")
        #expect(terminal.contains("about to fail with ***"), "the failure's last lines are shown, masked: \(terminal)")

        var files = SecretMaskingTests.files(under: dir)
        #expect(files.keys.contains { $0.hasSuffix("record.html") } && files.keys.contains { $0.hasSuffix("ledger.jsonl") })
        for (path, text) in whileUp where files[path] == nil { files["while up: " + path] = text }
        // The file the recipe writes on purpose holds the token (the user asked for it); nothing else may.
        for path in files.keys where path.hasSuffix("workspace/canary/work/code/serving.properties") {
            #expect(files.removeValue(forKey: path)?.contains(Self.canary) == true)
        }
        // The local cloud's SageMaker records keep a model's Environment sealed (AES-256-GCM, key beside data/).
        #expect(files.keys.contains { $0.contains(".sous/local-cloud/data/sagemaker/models/") })
        for secret in [Self.canary, Self.envCanary] {
            #expect(SecretForms.found(secret, in: terminal).isEmpty, "terminal: \(SecretForms.found(secret, in: terminal))")
            for (path, text) in files.sorted(by: { $0.key < $1.key }) {
                let found = SecretForms.found(secret, in: text)
                #expect(found.isEmpty, "\(path) holds \(found)")
            }
        }
    }
}
