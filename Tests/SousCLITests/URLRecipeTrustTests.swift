import Foundation
import SousTestSupport
import Testing

/// A recipe run from a URL (a loopback server, Tests/python/recipe_server.py) on the local cloud: its
/// creates are asked about like its commands; the same file on disk creates without asking.
@Suite(.serialized) final class URLRecipeTrustTests {
    let dir: URL
    let site: URL
    let server: TestServerProcess

    static let recipe = """
        name: shared
        steps:
          - id: bucket
            uses: s3.default-bucket
          - id: hello
            uses: shell
            with:
              command: echo hello from ${{ steps.bucket.outputs.bucket }}
        """

    init() throws {
        dir = try TestPaths.makeTemporaryDirectory("sous-url-trust")
        site = dir.appendingPathComponent("site")
        try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
        try (Self.recipe + "\n").write(to: site.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        server = try TestServerProcess(
            executable: TestPaths.python,
            arguments: [
                TestPaths.packageRoot.appendingPathComponent("Tests/python/recipe_server.py").path, site.path,
                dir.appendingPathComponent("requests.log").path,
            ])
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    var url: String { "http://127.0.0.1:\(server.port)/r.yaml" }

    func sous(_ args: String...) throws -> SousBinary.Result { try SousBinary.run(args, cwd: dir) }

    @Test func createsOfAURLRecipeAreAskedAboutAndRemembered() throws {
        let refused = try sous("run", "--local", url)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("""
            step 'bucket' of recipe shared (\(url), fetched from a URL) creates a resource with s3.default-bucket (billed to the AWS account it runs against):
              (no inputs: s3.default-bucket's defaults)
            not confirmed: this recipe comes from a URL; review what it creates, then rerun with --yes
            """), "\(refused.stderr)")
        #expect(!refused.stdout.contains("hello from"))
        // On a terminal, answered: the create, then the command.
        let answered = try SousBinary.runOnTerminal(["run", "--local", url], cwd: dir, answers: "y\ny\n")
        #expect(answered.status == 0, "\(answered.stderr)")
        #expect(answered.stderr.contains("Create it? [y/N] "))
        #expect(answered.stderr.contains("runs on this machine:\n  $ echo hello from \"${SOUS_VALUE_1}\"\n  where SOUS_VALUE_1 = \"sagemaker-"))
        #expect(answered.stdout.contains("hello from sagemaker-"))
        // Remembered: an unchanged rerun asks nothing.
        let again = try sous("run", "--local", url, "--force")
        #expect(again.status == 0, "\(again.stderr)")
        // The same recipe from disk: its own approvals (another recipe content), and no question for the create.
        try FileManager.default.copyItem(at: site.appendingPathComponent("r.yaml"), to: dir.appendingPathComponent("r.yaml"))
        let local = try sous("run", "--local", "r.yaml", "--force")
        #expect(local.status == 1)
        #expect(!local.stderr.contains("Create it?") && !local.stderr.contains("creates a resource"), "\(local.stderr)")
        #expect(local.stderr.contains("step 'hello' of recipe shared (r.yaml) runs on this machine:"), "\(local.stderr)")
    }
}
