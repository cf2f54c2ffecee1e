import Foundation
import SousEngine
import SousRecipe
import SousSteps
import SousTestSupport
import Synchronization
import Testing

/// The forms a secret takes when a command encodes it, for looking for them in what sous writes.
enum SecretForms {
    /// The secret, its base64 at the three byte offsets it can have in encoded text (only the characters
    /// that come from the secret alone), its JSON string and its URL encoding.
    static func of(_ secret: String) -> [String] {
        var forms = [secret]
        for shift in 0..<3 {
            let padding = String(repeating: "a", count: (3 - shift) % 3)
            let encoded = Data((padding + secret).utf8).base64EncodedString()
            // Skip the characters that hold padding bits; keep those made of the secret's bytes only.
            let start = (padding.utf8.count * 8 + 5) / 6
            let end = ((padding.utf8.count + secret.utf8.count) * 8) / 6
            let chars = Array(encoded)
            forms.append(String(chars[start..<end]))
        }
        let json = String(Value.string(secret).jsonString().dropFirst().dropLast())
        forms.append(json)
        forms.append(json.replacingOccurrences(of: "/", with: "\\/"))  // Foundation's JSONEncoder
        forms.append(secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        return forms
    }

    /// Which forms of `secret` occur in `text`, by name.
    static func found(_ secret: String, in text: String) -> [String] {
        zip(["plain", "base64+0", "base64+1", "base64+2", "json", "json with \\/", "url"], of(secret)).filter { text.contains($0.1) }.map(\.0)
    }
}

/// A secret printed by a command in encoded forms, or split across two reads of its output, is masked in
/// the terminal, the state, the run record and the step log.
@Suite(.serialized) struct SecretMaskingTests {
    let dir: URL
    static let secret = "k9/Tok+en\"Canary x7-Qz"

    init() throws { dir = try TestPaths.makeTemporaryDirectory("sous-masking") }

    /// Every file under `root` as text, by relative path.
    static func files(under root: URL) -> [String: String] {
        var out: [String: String] = [:]
        for case let rel as String in FileManager.default.enumerator(atPath: root.path)?.allObjects ?? [] {
            if let d = FileManager.default.contents(atPath: root.appendingPathComponent(rel).path) { out[rel] = String(decoding: d, as: UTF8.self) }
        }
        return out
    }

    @Test("a shell step printing a secret as base64 (at three offsets), JSON and URL: masked in every file and on the terminal")
    func encodedFormsAreMaskedEverywhere() throws {
        let recipe = """
            name: encodes
            secrets:
              token: {from: env:SOUS_TEST_MASKED_TOKEN}
            steps:
              - id: encode
                uses: shell
                with:
                  env: {TOKEN: "${{ secrets.token }}"}
                  command: |
                    printf '%s' "$TOKEN" | base64
                    printf 'a%s' "$TOKEN" | base64
                    printf 'ab%s' "$TOKEN" | base64
                    printf '%s' "$TOKEN" | python3 -c 'import json, sys; print(json.dumps({"t": sys.stdin.read()}))'
                    printf '%s' "$TOKEN" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))'
                    echo done
            """
        try recipe.write(to: dir.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        let run = try SousBinary.run(["run", "r.yaml", "--yes"], cwd: dir, env: ["SOUS_TEST_MASKED_TOKEN": Self.secret])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("done"))
        #expect(SecretForms.found(Self.secret, in: run.stdout + run.stderr).isEmpty, "terminal: \(run.stdout)")
        let files = Self.files(under: dir.appendingPathComponent("workspace"))
        let written = files.filter { $0.key.hasSuffix("state.json") || $0.key.hasSuffix("record.md") || $0.key.hasSuffix("record.json") || $0.key.hasSuffix("encode.log") }
        #expect(written.count == 4, "\(files.keys.sorted())")
        for (path, text) in written {
            #expect(SecretForms.found(Self.secret, in: text).isEmpty, "\(path): \(SecretForms.found(Self.secret, in: text))")
            #expect(text.contains("***"), "\(path) shows where the secret was")
        }
    }

    /// Reports output events; on the first piece of `step`'s output, lets the command go on (by writing to
    /// a FIFO the command waits on), so the command's output is read in two pieces cut inside the secret.
    final class Gate: RunReporter, Sendable {
        let fifo: String
        let terminal = Mutex("")
        let opened = Mutex<Int32>(-1)
        init(fifo: String) { self.fifo = fifo }
        func handle(_ event: RunEvent) {
            guard case .stepOutput(_, let text) = event else { return }
            terminal.withLock { $0 += text }
            opened.withLock { fd in
                guard fd < 0 else { return }
                // Read-write: never blocks, and the byte stays in the pipe until the command reads it.
                fd = open(fifo, O_RDWR)
                _ = write(fd, "go\n", 3)
            }
        }
        func close() { opened.withLock { if $0 >= 0 { _ = Glibc.close($0) } } }
    }

    @Test("a secret split across two reads of a command's output is masked whole: on the terminal, in the record and log")
    func secretSplitAcrossReads() async throws {
        let registry = BuiltinSteps.registry()
        let text = """
            name: split
            secrets:
              token: {from: env:SOUS_TEST_SPLIT_TOKEN}
            steps:
              - id: split
                uses: shell
                with:
                  env: {TOKEN: "${{ secrets.token }}"}
                  command: |
                    printf 'first %s' "$(printf '%s' "$TOKEN" | head -c 9)"
                    read go < go.fifo
                    printf '%s rest\\n' "$(printf '%s' "$TOKEN" | tail -c +10)"
            """
        let recipe = try RecipeLoader(kinds: registry.schemas).parse(text: text, path: dir.appendingPathComponent("r.yaml").path, defaultName: "split")
        let engine0 = Engine(registry: registry, workspaceRoot: dir.appendingPathComponent("ws").path)
        let work = engine0.layout(for: recipe).workDir
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        #expect(mkfifo(work + "/go.fifo", 0o600) == 0)
        let gate = Gate(fifo: work + "/go.fifo")
        defer { gate.close() }
        let engine = Engine(registry: registry, workspaceRoot: dir.appendingPathComponent("ws").path, reporter: gate)
        var options = RunOptions()
        options.assumeYes = true
        options.environment = ProcessInfo.processInfo.environment.merging(["SOUS_TEST_SPLIT_TOKEN": Self.secret]) { $1 }
        let result = try await engine.run(recipe, params: [:], options: options)
        #expect(result.status == .succeeded, "\(result.error ?? "")")

        let terminal = gate.terminal.withLock { $0 }
        #expect(terminal == "first *** rest\n", "\(terminal)")
        let files = Self.files(under: dir.appendingPathComponent("ws"))
        let record = files.filter { $0.key.hasSuffix("record.md") || $0.key.hasSuffix("record.json") || $0.key.hasSuffix("split.log") }
        #expect(record.count == 3)
        for (path, text) in record {
            #expect(!text.contains(Self.secret) && !text.contains("first k9/Tok+en"), "\(path): \(text)")
            #expect(text.contains("first *** rest"), "\(path)")
        }
    }
}
