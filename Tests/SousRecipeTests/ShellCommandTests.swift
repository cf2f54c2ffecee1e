import Foundation
import SousRecipe
import SousTestSupport
import SousYAML
import Testing

/// `${{ }}` values in a shell command reach /bin/sh as environment variables: the rewriting per quoting
/// context, the refusals, and — through a real /bin/sh — hostile values arriving byte for byte as data.
@Suite struct ShellCommandTests {
    static let kinds: [String: StepKindSchema] = [
        "shell": StepKindSchema(
            kind: "shell", version: 2, category: .effect, summary: "test shell",
            inputs: [
                InputSpec("command", .string, required: true, role: .shellCommand, "the command"),
                InputSpec("env", .map, "environment"),
            ],
            outputs: [OutputSpec("stdout", .string, "output")]),
        // The same without the role, so that commands the loader would refuse can be looked at.
        "raw": StepKindSchema(
            kind: "raw", version: 1, category: .effect, summary: "test raw command",
            inputs: [InputSpec("command", .string, required: true, "the command")], outputs: []),
    ]

    /// A one-step recipe; `command` is the YAML after `command:` (line 11).
    static func recipe(command: String, kind: String = "shell") -> String {
        """
        name: t
        params:
          x: {type: string, default: ""}
          y: {type: string, default: ""}
        secrets:
          token: env:TOKEN
        steps:
          - id: s
            uses: \(kind)
            with:
              command: \(command)
        """
    }

    /// The `command` template of a one-step recipe whose command is `text` (a YAML block literal).
    static func template(_ text: String) throws -> Template {
        let indented = text.split(separator: "\n", omittingEmptySubsequences: false).map { "        " + $0 }.joined(separator: "\n")
        let recipe = try RecipeLoader(kinds: kinds).parse(text: recipe(command: "|-\n" + indented, kind: "raw"), path: "t.yaml", defaultName: "t")
        return try #require(recipe.steps[0].input("command"))
    }

    static func rewrite(_ text: String) throws -> ShellCommand { try ShellCommand.rewrite(try template(text)) }

    /// Runs `command` with /bin/sh -c in a fresh folder, with the variables set to `values`.
    static func sh(_ command: ShellCommand, _ values: [String: String]) throws -> (out: String, dir: URL) {
        let dir = try TestPaths.makeTemporaryDirectory("sous-sh")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command.text]
        p.currentDirectoryURL = dir
        var env = ["PATH": "/usr/bin:/bin"]
        for v in command.variables {
            let key: String
            switch v.reference {
            case .param(let n): key = n
            default: key = "\(v.reference)"
            }
            env[v.name] = values[key] ?? ""
        }
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), dir)
    }

    static let hostile = [
        "; touch pwned", "$(touch pwned)", "`touch pwned`", "a\ntouch pwned", "it's'; touch pwned; '",
        "say \"hi\"; touch pwned; \"", "*", "  two  spaces  ", "back\\slash \\\" $HOME ${PATH} !", "-n",
    ]

    @Test func eachContextGetsAFormThatKeepsItsQuotingBalanced() throws {
        #expect(try Self.rewrite("printf '%s' ${{ params.x }} > out").text == #"printf '%s' "${SOUS_VALUE_1}" > out"#)
        #expect(try Self.rewrite(#"echo "a ${{ params.x }} b""#).text == #"echo "a ${SOUS_VALUE_1} b""#)
        #expect(try Self.rewrite("echo 'a ${{ params.x }} b'").text == #"echo 'a '"${SOUS_VALUE_1}"' b'"#)
        #expect(try Self.rewrite("echo $(cat ${{ params.x }})").text == #"echo $(cat "${SOUS_VALUE_1}")"#)
        #expect(try Self.rewrite(#"echo "$(cat ${{ params.x }})""#).text == #"echo "$(cat "${SOUS_VALUE_1}")""#)
        #expect(try Self.rewrite("echo hi # ${{ params.x }}").text == "echo hi # ${SOUS_VALUE_1}")
        #expect(try Self.rewrite("cat <<< ${{ params.x }}").text == #"cat <<< "${SOUS_VALUE_1}""#)
        #expect(try Self.rewrite("cat <<EOF\n${{ params.x }} \"q\"\nEOF\necho ${{ params.y }}").text == "cat <<EOF\n${SOUS_VALUE_1} \"q\"\nEOF\necho \"${SOUS_VALUE_2}\"")
        // One variable per distinct expression.
        let twice = try Self.rewrite("echo ${{ params.x }} ${{ params.y }} ${{ params.x }}")
        #expect(twice.text == #"echo "${SOUS_VALUE_1}" "${SOUS_VALUE_2}" "${SOUS_VALUE_1}""#)
        #expect(twice.variables.map(\.reference) == [.param("x"), .param("y")])
        // A literal command is left exactly as written.
        let literal = try ShellCommand.rewrite(.literal(.string("echo '$(x)' \\"), mark: .init(line: 1, column: 1)))
        #expect(literal.text == "echo '$(x)' \\")
        #expect(literal.variables.isEmpty)
    }

    @Test(arguments: [
        ("printf '%s' ${{ params.x }}", "{}"),
        (#"printf '%s' "${{ params.x }}""#, "{}"),
        ("printf '%s' '${{ params.x }}'", "{}"),
        (#"printf '%s' "[${{ params.x }}]" '<${{ params.x }}>' \(${{ params.x }}\)"#, "[{}]<{}>({})"),
        (#"printf '%s' "$(printf '%s' ${{ params.x }})x""#, "{}x"),
        ("printf '%s' \"`printf '%s' ${{ params.x }}`\"z", "{}z"),
        ("cat <<EOF\n${{ params.x }}\nEOF", "{}\n"),
        ("cat <<-EOF\n\t[${{ params.x }}]\n\tEOF", "[{}]\n"),
        ("x=${{ params.x }}; printf '%s' \"$x\"", "{}"),
        ("printf '%s' ${{ params.x }} # ${{ params.x }}\n", "{}"),
    ])
    func hostileValuesArriveByteForByte(command: String, expected: String) throws {
        let rewritten = try Self.rewrite(command)
        for value in Self.hostile {
            // Command substitution drops trailing newlines; none of the values ends with one.
            let (out, dir) = try Self.sh(rewritten, ["x": value])
            #expect(out == expected.replacingOccurrences(of: "{}", with: value), "command \(rewritten.text) with \(value)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("pwned").path), "\(value) ran in \(rewritten.text)")
        }
    }

    @Test func unsafePlacesAreRefusedAtTheExpression() throws {
        func problems(_ text: String) throws -> [String] {
            let t = try Self.template(text)
            do {
                _ = try ShellCommand.rewrite(t)
                return []
            } catch {
                return error.problems.map { "\($0.mark.line):\($0.mark.column) \($0.message)" }
            }
        }
        #expect(try problems(#"echo \${{ params.x }}"#).map { String($0.drop { $0 != " " }.dropFirst()) } == [
            "${{ params.x }} cannot be passed safely right after a backslash; give the value to the command through 'env:' and use \"$NAME\""
        ])
        #expect(try problems(#"printf "\${{ params.x }}""#).count == 1)
        #expect(try problems("echo ${HOME:-${{ params.x }}}").first?.hasSuffix("inside ${…}; give the value to the command through 'env:' and use \"$NAME\"") == true)
        #expect(try problems("echo $(( ${{ params.x }} + 1 ))").first?.contains("inside an arithmetic expression") == true)
        #expect(try problems("(( n = ${{ params.x }} ))").first?.contains("inside an arithmetic expression") == true)
        #expect(try problems("echo $'a ${{ params.x }}'").first?.contains("inside $'…'") == true)
        #expect(try problems("cat <<'EOF'\n${{ params.x }}\nEOF").first?.contains("here-document whose delimiter is quoted") == true)
        #expect(try problems("cat <<${{ params.x }}\nEOF").first?.contains("here-document's delimiter") == true)
        // After the here-document, words are words again.
        #expect(try Self.rewrite("cat <<'EOF'\n$x\nEOF\necho ${{ params.x }}").text == "cat <<'EOF'\n$x\nEOF\necho \"${SOUS_VALUE_1}\"")
    }

    @Test func secretsInACommandLineAreRefusedAtTheirPositionWithTheWayOut() throws {
        let line = #"'curl -H "Authorization: Bearer ${{ secrets.token }}" x'"#
        let text = Self.recipe(command: line)
        do {
            _ = try RecipeLoader(kinds: Self.kinds).parse(text: text, path: "t.yaml", defaultName: "t")
            Issue.record("a secret in a command line was accepted")
        } catch {
            let column = "      command: ".count + line.distance(from: line.startIndex, to: line.range(of: "${{")!.lowerBound) + 1
            #expect(error.description == """
                t.yaml:11:\(column): error: step 's' (shell): ${{ secrets.token }} cannot be used in a command line: it would show in \
                the process list (ps); pass it through 'env:' (env: {TOKEN: "${{ secrets.token }}"}) and use "$TOKEN" in the command
                      command: \(line)
                \(String(repeating: " ", count: column - 1))^
                """)
        }
        // Through env: it is fine.
        let viaEnv = Self.recipe(command: #"'curl -H "Authorization: Bearer $TOKEN" x'"# + "\n      env: {TOKEN: \"${{ secrets.token }}\"}")
        #expect(throws: Never.self) { try RecipeLoader(kinds: Self.kinds).parse(text: viaEnv, path: "t.yaml", defaultName: "t") }
    }

    @Test func writePathsAreCheckedAsWritten() {
        func problems(_ t: Template) -> [String] { PathConfinement.problems(t).map(\.message) }
        let m = YAMLMark(line: 1, column: 1)
        #expect(problems(.literal(.string("a/b/../c.txt"), mark: m)).isEmpty)
        #expect(problems(.literal(.string("../../.sous/trusted-commands"), mark: m)) == [
            "'../../.sous/trusted-commands' leaves the recipe's work folder (WORKSPACE/<recipe>/work): a step may only write inside it"
        ])
        #expect(problems(.literal(.string("a/../../x"), mark: m)).count == 1)
        #expect(problems(.literal(.string("/etc/passwd"), mark: m)).first?.hasPrefix("'/etc/passwd' is an absolute path") == true)
        #expect(problems(.interpolated([.reference(.workspace, column: 1), .text("/../state.json")], mark: m)).count == 1)
        #expect(problems(.interpolated([.reference(.workspace, column: 1), .text("/out/x.txt")], mark: m)).isEmpty)
        #expect(problems(.interpolated([.text("../"), .reference(.param("x"), column: 4)], mark: m)).count == 1)
        #expect(problems(.interpolated([.text("out/.."), .reference(.param("x"), column: 7)], mark: m)).isEmpty)
        #expect(problems(.interpolated([.reference(.param("x"), column: 1), .text("/../../x")], mark: m)).isEmpty)  // known at run time
        #expect(problems(.list([.literal(.string("ok.txt"), mark: m), .literal(.string("../no.txt"), mark: m)], mark: m)).count == 1)
    }
}
