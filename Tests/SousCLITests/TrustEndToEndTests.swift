import Foundation
import SousTestSupport
import Testing

/// Trust on purpose, through the built `sous`: approvals keyed on the command as it runs and on the
/// recipe's content, writes confined to the recipe's work folder, and `${{ }}` values in commands
/// arriving as data.
@Suite(.serialized) struct TrustEndToEndTests {
    let dir: URL

    init() throws { dir = try TestPaths.makeTemporaryDirectory("sous-trust") }

    func write(_ name: String, _ text: String) throws {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func sous(_ args: String..., env: [String: String] = [:]) throws -> SousBinary.Result {
        try SousBinary.run(args, cwd: dir, env: env)
    }

    func typed(_ answers: String, _ args: String...) throws -> SousBinary.Result {
        try SousBinary.runOnTerminal(args, cwd: dir, answers: answers)
    }

    func read(_ rel: String) -> String? { try? String(contentsOf: dir.appendingPathComponent(rel), encoding: .utf8) }

    var approvals: [String] { (read("workspace/.sous/trusted-commands") ?? "").split(separator: "\n").map(String.init) }

    /// Every file under the test folder named `pwned`.
    func pwned() -> [String] {
        (FileManager.default.enumerator(atPath: dir.path)?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix("pwned") }
    }

    static let greet = """
        name: greet
        params:
          who: {type: string, default: world}
        steps:
          - id: hello
            uses: shell
            with:
              command: "printf 'hello %s' ${{ params.who }} > hello.txt"
        """

    @Test func approvalCoversTheResolvedCommandOfThisRecipeOnly() throws {
        try write("r.yaml", Self.greet)
        let shown = """
            step 'hello' of recipe greet (r.yaml) runs on this machine:
              $ printf 'hello %s' "${SOUS_VALUE_1}" > hello.txt
              where SOUS_VALUE_1 = "world"   ← ${{ params.who }}
            """
        // Without a terminal and without --yes: refused, with what would run.
        let refused = try sous("run", "r.yaml")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(shown + "\nnot confirmed: review the command, then rerun with --yes to allow it"), "\(refused.stderr)")
        #expect(read("workspace/greet/work/hello.txt") == nil)
        // On a terminal: asked; "n" refuses, "y" runs it.
        let no = try typed("n\n", "run", "r.yaml")
        #expect(no.status == 1)
        #expect(no.stderr.contains(shown + "\nRun it? [y/N] "), "\(no.stderr)")
        #expect(read("workspace/greet/work/hello.txt") == nil)
        let yes = try typed("y\n", "run", "r.yaml")
        #expect(yes.status == 0, "\(yes.stderr)")
        #expect(read("workspace/greet/work/hello.txt") == "hello world")
        // The same command of the same recipe: not asked again.
        let again = try sous("run", "r.yaml")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("Run it?"))
        // A new -p value is a new command: asked again, showing the new value.
        let other = try sous("run", "r.yaml", "-p", "who=sous")
        #expect(other.status == 1)
        #expect(other.stderr.contains(#"where SOUS_VALUE_1 = "sous""#), "\(other.stderr)")
        #expect(try sous("run", "r.yaml", "-p", "who=sous", "--yes").status == 0)
        #expect(read("workspace/greet/work/hello.txt") == "hello sous")
        #expect(try sous("run", "r.yaml", "-p", "who=sous").status == 0)
        #expect(try sous("run", "r.yaml").status == 0)
        // A changed recipe (even outside the step) is asked about again.
        try write("r.yaml", Self.greet.replacingOccurrences(of: "name: greet\n", with: "name: greet\ndescription: changed\n"))
        let changed = try sous("run", "r.yaml")
        #expect(changed.status == 1)
        #expect(changed.stderr.contains("not confirmed"))
        let answered = try typed("yes\n", "run", "r.yaml")
        #expect(answered.status == 0, "\(answered.stderr)")
        // One line per approval, keyed: no value in clear.
        #expect(approvals.count == 3)
        #expect(approvals.allSatisfy { $0.wholeMatch(of: #/shell [0-9a-f]{64}/#) != nil }, "\(approvals)")
        #expect(!(read("workspace/.sous/trusted-commands") ?? "").contains("world"))
    }

    @Test func aCachedCommandIsNotAskedAbout() throws {
        try write("r.yaml", """
            name: cached
            steps:
              - id: make
                uses: shell
                with:
                  command: printf built > out.txt
                  generates: [out.txt]
            """)
        #expect(try sous("run", "r.yaml", "--yes").status == 0)
        // Approvals forgotten: a step that is skipped runs nothing, so nothing is asked.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("workspace/.sous/trusted-commands"))
        let rerun = try sous("run", "r.yaml")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("cached"))
    }

    static let hostileValues = [
        "; touch pwned", "$(touch pwned)", "`touch pwned`", "x\ntouch pwned", "it's'; touch pwned; echo '",
        #"say "hi"; touch pwned; echo ""#, "*", "  spaced  out  ", #"\"; touch pwned #"#,
    ]

    @Test func valuesInCommandsArriveAsDataThroughParamsAndStepOutputs() throws {
        try write("r.yaml", """
            name: hostile
            params:
              x: {type: string, default: safe}
            steps:
              - id: bare
                uses: shell
                with:
                  command: printf '%s' ${{ params.x }} > bare.txt
              - id: quoted
                uses: shell
                with:
                  command: printf '%s' "${{ params.x }}" > double.txt; printf '%s' '${{ params.x }}' > single.txt
              - id: echo
                uses: shell
                with:
                  command: printf '%s' "$V"
                  env: {V: "${{ params.x }}"}
              - id: relay
                uses: shell
                with:
                  command: printf '%s' ${{ steps.echo.outputs.stdout }} > relayed.txt
            """)
        for value in Self.hostileValues {
            let r = try sous("run", "r.yaml", "--yes", "-p", "x=\(value)")
            #expect(r.status == 0, "\(value): \(r.stderr)")
            for file in ["bare", "double", "single", "relayed"] {
                #expect(read("workspace/hostile/work/\(file).txt") == value, "\(file).txt for \(value)")
            }
            #expect(pwned().isEmpty, "\(value) ran: \(pwned())")
        }
    }

    @Test func thePromptShowsWhatTheShellSeesAndEscapesWhatCouldHide() throws {
        try write("r.yaml", Self.greet)
        let r = try sous("run", "r.yaml", "-p", "who=a\u{202E}b\nc\u{1B}[2K")
        #expect(r.status == 1)
        #expect(r.stderr.contains(#"where SOUS_VALUE_1 = "a\u{202e}b\nc\u{1b}[2K"   ← ${{ params.who }}"#), "\(r.stderr)")
        #expect(!r.stderr.contains("\u{1B}[2K"))
    }

    @Test func writesLeavingTheWorkFolderAreRefused() throws {
        // As written: refused by validate (and so by run), at the place.
        try write("lit.yaml", """
            name: lit
            steps:
              - id: w
                uses: file.write
                with:
                  path: ../../.sous/trusted-commands
                  content: forged
            """)
        let v = try sous("validate", "lit.yaml")
        #expect(v.status == 2)
        #expect(v.stderr == """
            lit.yaml:6:13: error: step 'w' (file.write): input 'path': '../../.sous/trusted-commands' leaves the recipe's work folder (WORKSPACE/<recipe>/work): a step may only write inside it
                  path: ../../.sous/trusted-commands
                        ^

            """)
        // Through a param: refused when resolved, before the step writes anything.
        try write("p.yaml", """
            name: viaparam
            params:
              target: {type: string, default: ok.txt}
            steps:
              - id: w
                uses: file.write
                with:
                  path: ${{ params.target }}
                  content: forged
            """)
        #expect(try sous("run", "p.yaml").status == 0)
        #expect(read("workspace/viaparam/work/ok.txt") == "forged")
        for target in ["../../.sous/trusted-commands", "../../other/state.json", "../state.json", "\(dir.path)/outside.txt", "a/../../../x"] {
            let r = try sous("run", "p.yaml", "-p", "target=\(target)")
            #expect(r.status == 1, "\(target)")
            #expect(r.stderr.contains("input 'path': path '\(target)' leaves the recipe's work folder"), "\(target): \(r.stderr)")
        }
        #expect(read("workspace/.sous/trusted-commands") == nil)
        #expect(read("workspace/other/state.json") == nil)
        #expect(read("outside.txt") == nil)
        // Inside, `..` that stays inside is fine.
        #expect(try sous("run", "p.yaml", "-p", "target=sub/../inside.txt").status == 0)
        #expect(read("workspace/viaparam/work/inside.txt") == "forged")
    }

    @Test func symbolicLinksOutOfTheWorkFolderAreRefused() throws {
        try write("r.yaml", """
            name: links
            params:
              target: {type: string, default: ok.txt}
            steps:
              - id: w
                uses: file.write
                with:
                  path: ${{ params.target }}
                  content: forged
            """)
        #expect(try sous("run", "r.yaml").status == 0)
        let work = dir.appendingPathComponent("workspace/links/work")
        let outside = dir.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try "precious".write(to: outside.appendingPathComponent("victim.txt"), atomically: true, encoding: .utf8)
        // A folder link, a file link and a link to nothing, each pointing out of the work folder.
        try FileManager.default.createSymbolicLink(atPath: work.appendingPathComponent("dirlink").path, withDestinationPath: outside.path)
        try FileManager.default.createSymbolicLink(atPath: work.appendingPathComponent("filelink").path, withDestinationPath: outside.appendingPathComponent("victim.txt").path)
        try FileManager.default.createSymbolicLink(atPath: work.appendingPathComponent("dangling").path, withDestinationPath: outside.appendingPathComponent("new.txt").path)
        for target in ["dirlink/x.txt", "filelink", "dangling"] {
            let r = try sous("run", "r.yaml", "-p", "target=\(target)")
            #expect(r.status == 1, "\(target)")
            #expect(r.stderr.contains("symbolic link"), "\(target): \(r.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == ["victim.txt"])
        #expect(read("outside/victim.txt") == "precious")
        // A link that stays inside the work folder is fine.
        try FileManager.default.createDirectory(at: work.appendingPathComponent("real"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: work.appendingPathComponent("inner").path, withDestinationPath: work.appendingPathComponent("real").path)
        let ok = try sous("run", "r.yaml", "-p", "target=inner/y.txt")
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(read("workspace/links/work/real/y.txt") == "forged")
    }

    @Test func secretsInACommandLineAreRefusedByValidate() throws {
        try write("r.yaml", """
            name: leak
            secrets:
              token: env:TOKEN
            steps:
              - id: call
                uses: shell
                with:
                  command: "curl -H 'Authorization: Bearer ${{ secrets.token }}' https://example.com"
            """)
        let v = try sous("validate", "r.yaml")
        #expect(v.status == 2)
        #expect(v.stderr.hasPrefix("r.yaml:8:48: error: step 'call' (shell): ${{ secrets.token }} cannot be used in a command line: it would show in the process list (ps); pass it through 'env:'"), "\(v.stderr)")
        #expect(try sous("run", "r.yaml", "--yes", env: ["TOKEN": "tok-123456"]).status == 2)
    }
}
