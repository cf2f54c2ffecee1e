import Foundation
import SousTestSupport
import Testing

/// An optional secret (`required: false`) that is not set leaves out what uses it: a whole input falls
/// back to the kind's default, a map entry is dropped, and `sous plan` says so. Set, it is used and redacted.
@Suite struct OptionalSecretTests {
    static let recipe = """
        name: optional-secret
        secrets:
          tok: {from: env:SOUS_TEST_OPTIONAL_TOKEN, required: false}
        steps:
          - id: show
            uses: print
            with:
              values:
                kept: visible
                token: ${{ secrets.tok }}
        """

    @Test func absentOptionalSecretLeavesItsInputOutAndPlanSaysSo() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-optional-secret")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("r.yaml")
        try Self.recipe.write(to: file, atomically: true, encoding: .utf8)
        let ws = ["--workspace", dir.appendingPathComponent("ws").path]

        let plan = try SousBinary.run(["plan", file.path] + ws, cwd: dir, env: ["SOUS_TEST_OPTIONAL_TOKEN": ""])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("input 'values.token' left out: an optional secret it uses is not set"), "\(plan.stdout)")

        let absent = try SousBinary.run(["run", file.path] + ws, cwd: dir, env: ["SOUS_TEST_OPTIONAL_TOKEN": ""])
        #expect(absent.status == 0, "\(absent.stdout)\n\(absent.stderr)")
        #expect(absent.stdout.contains("kept") && absent.stdout.contains("visible"), "\(absent.stdout)")
        #expect(!absent.stdout.contains("token"), "the entry that uses the absent secret is left out: \(absent.stdout)")

        let given = try SousBinary.run(["run", file.path] + ws, cwd: dir, env: ["SOUS_TEST_OPTIONAL_TOKEN": "s3cr3t-optional-value"])
        #expect(given.status == 0, "\(given.stderr)")
        #expect(given.stdout.contains("token") && given.stdout.contains("***"), "\(given.stdout)")
        #expect(!given.stdout.contains("s3cr3t-optional-value"))
    }
}
