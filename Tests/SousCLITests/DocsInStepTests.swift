import Foundation
import SousTestSupport
import Testing

/// The README's step-kind table and docs/steps.md are `sous steps --markdown` output; these tests fail
/// when a kind changes without them (regenerate: `sous steps --markdown --all > docs/steps.md`, and paste
/// `sous steps --markdown` between the README's `steps:begin`/`steps:end` markers).
@Suite struct DocsInStepTests {
    static let root = TestPaths.packageRoot

    static func sous(_ args: [String]) throws -> String {
        let r = try SousBinary.run(args, cwd: root)
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout
    }

    @Test func readmeStepTableMatchesSousSteps() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let begin = try #require(readme.range(of: "<!-- steps:begin -->\n"))
        let end = try #require(readme.range(of: "<!-- steps:end -->"))
        let table = String(readme[begin.upperBound..<end.lowerBound])
        let generated = try Self.sous(["steps", "--markdown"])
        #expect(table == generated, "README's step table is stale; paste `sous steps --markdown` between the markers")
        // Every kind the registry has is in the table.
        for line in try Self.sous(["steps"]).split(separator: "\n") {
            let kind = String(line.split(separator: " ")[0])
            #expect(table.contains("[`\(kind)`]"), "\(kind) is missing from the README")
        }
    }

    @Test func docsStepsMatchesSousSteps() throws {
        let doc = try String(contentsOf: Self.root.appendingPathComponent("docs/steps.md"), encoding: .utf8)
        #expect(doc == (try Self.sous(["steps", "--markdown", "--all"])), "docs/steps.md is stale; run `sous steps --markdown --all > docs/steps.md`")
    }
}
