import Foundation
import SousTestSupport
import Testing

/// `sha256sum FILE`'s hash, as the README tells publishers to compute a pin.
func sha256sum(_ path: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["sha256sum", path]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
}

/// Running recipes from URLs through the built `sous`: a loopback server (Tests/python/recipe_server.py)
/// serves a folder of recipes of pure steps, so no cloud is involved.
@Suite(.serialized) final class ShareRecipesTests {
    let dir: URL
    let site: URL
    let server: TestServerProcess
    var origin: String { "http://127.0.0.1:\(server.port)" }

    static let base = """
        description: a shared base
        params:
          greeting: {type: string, default: hello, description: what to write}
        steps:
          - id: greet
            uses: file.write
            with:
              path: out/greeting.txt
              content: "${{ params.greeting }} from ${{ recipe.name }}"
        """

    static let child = """
        extends: base.yaml
        params:
          greeting: {default: bonjour}
        steps:
          - id: more
            uses: file.write
            with:
              path: out/more.txt
              content: "${{ params.greeting }} again"
        """

    init() throws {
        dir = try TestPaths.makeTemporaryDirectory("sous-share")
        site = dir.appendingPathComponent("site")
        try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
        server = try TestServerProcess(
            executable: TestPaths.python,
            arguments: [
                TestPaths.packageRoot.appendingPathComponent("Tests/python/recipe_server.py").path, site.path,
                dir.appendingPathComponent("requests.log").path,
            ])
        try serve("base.yaml", Self.base)
        try serve("r.yaml", Self.child)
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    func serve(_ name: String, _ text: String) throws {
        try (text + "\n").write(to: site.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func hash(_ name: String) throws -> String { try sha256sum(site.appendingPathComponent(name).path) }

    func sous(_ args: String...) throws -> SousBinary.Result { try SousBinary.run(args, cwd: dir) }

    /// The paths the server was asked for so far (it logs each before answering).
    func requests() throws -> [String] {
        let log = (try? String(contentsOf: dir.appendingPathComponent("requests.log"), encoding: .utf8)) ?? ""
        return log.split(separator: "\n").map(String.init)
    }

    func work(_ relative: String, recipe: String = "r") throws -> String {
        try String(contentsOf: dir.appendingPathComponent("workspace/\(recipe)/work/\(relative)"), encoding: .utf8)
    }

    @Test func aServedRecipeExtendingAServedBasePlansAndRuns() throws {
        let url = "\(origin)/r.yaml"
        let plan = try sous("plan", url)
        #expect(plan.status == 0, "\(plan.stderr)")
        let origins = "from \(url) sha256 \(try hash("r.yaml"))\nfrom \(origin)/base.yaml sha256 \(try hash("base.yaml"))\n"
        #expect(plan.stdout.hasPrefix(origins), "\(plan.stdout)")
        #expect(plan.stdout.contains("2 of 2 steps would run"))
        let validate = try sous("validate", url)
        #expect(validate.stdout == origins + "\(url): ok (2 steps, 1 params, 0 secrets)\n", "\(validate.stdout)\(validate.stderr)")
        let run = try sous("run", "--yes", url)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try work("out/greeting.txt") == "bonjour from r")
        #expect(try work("out/more.txt") == "bonjour again")
        // Cached by content hash, with an index of URL → sha256 and when.
        let cache = dir.appendingPathComponent("workspace/.sous/recipes")
        let blob = try String(contentsOf: cache.appendingPathComponent("blobs/\(try hash("r.yaml"))"), encoding: .utf8)
        #expect(blob == Self.child + "\n")
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: cache.appendingPathComponent("index.json"))) as? [String: [String: String]]
        #expect(index?[url]?["sha256"] == (try hash("r.yaml")))
        #expect(index?["\(origin)/base.yaml"]?["fetched_at"] != nil)
        // A redirect (loopback http to loopback http) is followed.
        let redirected = try sous("validate", "\(origin)/redirect/r.yaml")
        #expect(redirected.status == 0, "\(redirected.stderr)")
    }

    @Test func aPinnedRecipeRunsAndIsThenServedFromTheCacheWithoutTheNetwork() throws {
        let pinned = "\(origin)/r.yaml#sha256=\(try hash("r.yaml"))"
        let first = try sous("run", "--yes", pinned)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try requests().filter { $0 == "/r.yaml" }.count == 1)
        let second = try sous("run", "--yes", pinned)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("cached"))
        #expect(try requests().filter { $0 == "/r.yaml" }.count == 1, "a pinned, cached file is not fetched again")
    }

    @Test func aPinnedRecipeWhoseBodyChangedIsRefusedWithBothHashes() throws {
        let pin = try hash("r.yaml")
        try serve("r.yaml", Self.child + "\n# changed upstream")
        let now = try hash("r.yaml")
        let run = try sous("run", "--yes", "\(origin)/r.yaml#sha256=\(pin)")
        #expect(run.status == 2)
        #expect(
            run.stderr.hasPrefix("\(origin)/r.yaml:1:1: error: cannot fetch recipe: expected sha256 \(pin), got \(now): \(origin)/r.yaml changed since it was pinned"),
            "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("workspace/r/work").path))
        // A base pinned in `extends:` is checked the same way, at its line.
        try serve("r.yaml", Self.child.replacingOccurrences(of: "extends: base.yaml", with: "extends: base.yaml#sha256=\(String(repeating: "0", count: 64))"))
        let base = try sous("validate", "\(origin)/r.yaml")
        #expect(base.status == 2)
        #expect(base.stderr.contains("\(origin)/r.yaml:1:10: error: cannot fetch base recipe 'base.yaml#sha256=000"), "\(base.stderr)")
        #expect(base.stderr.contains("expected sha256 \(String(repeating: "0", count: 64)), got \(try hash("base.yaml"))"), "\(base.stderr)")
    }

    @Test func offlineAPinnedRecipeRunsFromTheCacheAndAnUnpinnedOneWarns() throws {
        let url = "\(origin)/r.yaml"
        let pinned = "\(url)#sha256=\(try hash("r.yaml"))"
        #expect(try sous("run", "--yes", url).status == 0)
        server.stop()
        let offlinePinned = try sous("run", "--yes", "--force", pinned)
        #expect(offlinePinned.status == 0, "\(offlinePinned.stderr)")
        #expect(!offlinePinned.stderr.contains("cannot fetch \(url):"), "the pinned file needs no network: \(offlinePinned.stderr)")
        #expect(offlinePinned.stderr.contains("warning: cannot fetch \(origin)/base.yaml"), "the unpinned base falls back: \(offlinePinned.stderr)")
        let offline = try sous("run", "--yes", url)
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(offline.stderr.contains("warning: cannot fetch \(url): network error: could not connect"), "\(offline.stderr)")
        #expect(offline.stderr.contains("; using the copy fetched at 20"), "\(offline.stderr)")
        #expect(offline.stderr.contains("), sha256 \(try hash("r.yaml")). Pin it with #sha256="), "\(offline.stderr)")
        let never = try sous("validate", "\(origin)/never.yaml")
        #expect(never.status == 2)
        #expect(never.stderr.contains("\(origin)/never.yaml:1:1: error: cannot fetch recipe: network error: could not connect"), "\(never.stderr)")
        #expect(never.stderr.contains("no copy is cached in"), "\(never.stderr)")
        #expect(never.stderr.contains("pin it: \(origin)/never.yaml#sha256=<hex>"), "\(never.stderr)")
    }

    @Test func aSharedRecipeCannotNameFilesOnThisMachine() throws {
        try serve("evil.yaml", "extends: /etc/passwd\nsteps:\n  - include: ~/x.yaml\n  - include: ../../up.yaml\n  - {id: a, uses: print, with: {message: hi}}")
        let run = try sous("run", "--yes", "\(origin)/evil.yaml")
        #expect(run.status == 2)
        #expect(
            run.stderr == """
                \(origin)/evil.yaml:3:14: error: 'include': '~/x.yaml' is a path on this machine, and a shared recipe can't read your files: a recipe fetched from \(origin)/evil.yaml may reference files beside it (relative paths) or URLs
                  - include: ~/x.yaml
                             ^
                \(origin)/evil.yaml:4:14: error: 'include': '../../up.yaml' climbs above the root of \(origin)/ (relative to \(origin)/evil.yaml)
                  - include: ../../up.yaml
                             ^
                \(origin)/evil.yaml:1:10: error: 'extends': '/etc/passwd' is a path on this machine, and a shared recipe can't read your files: a recipe fetched from \(origin)/evil.yaml may reference files beside it (relative paths) or URLs
                extends: /etc/passwd
                         ^

                """)
        #expect(try !requests().contains { $0.contains("passwd") || $0.contains("up.yaml") })
    }

    @Test func fetchErrorsSayWhatFailedAndHowToPin() throws {
        let missing = try sous("validate", "\(origin)/missing.yaml")
        #expect(missing.status == 2)
        #expect(
            missing.stderr.hasPrefix(
                "\(origin)/missing.yaml:1:1: error: cannot fetch recipe: HTTP 404 Not Found, and no copy is cached in \(dir.path)/workspace/.sous/recipes."),
            "\(missing.stderr)")
        let big = try sous("validate", "\(origin)/big")
        #expect(big.stderr.contains("the file is larger than 1 MiB"), "\(big.stderr)")
        let insecure = try sous("validate", "http://example.com/r.yaml")
        #expect(insecure.status == 2)
        #expect(insecure.stderr.contains("plain http: recipes are fetched over https://"), "\(insecure.stderr)")
    }

    @Test func newFromAURLExtendsItPinned() throws {
        let made = try sous("new", "mine", "--from", "\(origin)/r.yaml")
        #expect(made.status == 0, "\(made.stderr)")
        let text = try String(contentsOf: dir.appendingPathComponent("mine.yaml"), encoding: .utf8)
        #expect(text.contains("\nextends: \(origin)/r.yaml#sha256=\(try hash("r.yaml"))\n"), "\(text)")
        #expect(text.contains("#   greeting: {default: bonjour}\n"), "\(text)")
        let validate = try sous("validate", "mine.yaml")
        #expect(validate.status == 0, "\(validate.stderr)")
        let inline = try sous("new", "flat", "--from", "\(origin)/r.yaml", "--inline")
        #expect(inline.status == 0, "\(inline.stderr)")
        let flat = try String(contentsOf: dir.appendingPathComponent("flat.yaml"), encoding: .utf8)
        #expect(flat.contains("#   from \(origin)/r.yaml sha256 \(try hash("r.yaml"))\n"), "\(flat)")
        #expect(!flat.contains("extends:"))
        let run = try sous("run", "flat.yaml")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try work("out/greeting.txt", recipe: "flat") == "bonjour from flat")
    }
}

/// `sous new` and `sous params` on the shipped recipes (no server).
@Suite struct NewAndParamsTests {
    let dir: URL
    init() throws { dir = try TestPaths.makeTemporaryDirectory("sous-new") }

    func sous(_ args: String..., cwd: URL? = nil) throws -> SousBinary.Result { try SousBinary.run(args, cwd: cwd ?? dir) }
    func read(_ relative: String) throws -> String { try String(contentsOf: dir.appendingPathComponent(relative), encoding: .utf8) }
    func recipe(_ name: String) -> String { TestPaths.packageRoot.appendingPathComponent("recipes/\(name)").path }

    /// `text` with `# ` taken off the lines from the first line starting with `marker` (that line
    /// too when `includingMarker`) up to the next blank line.
    func uncomment(_ text: String, from marker: String, includingMarker: Bool = true) -> String {
        var on = false
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if !on && line.trimmingCharacters(in: .whitespaces).hasPrefix(marker) {
                on = true
                if !includingMarker { return String(line) }
            }
            if on && line.trimmingCharacters(in: .whitespaces).isEmpty { on = false }
            guard on, let hash = line.firstIndex(of: "#") else { return String(line) }
            let after = line[line.index(after: hash)...]
            return String(line[..<hash]) + (after.hasPrefix(" ") ? String(after.dropFirst()) : String(after))
        }.joined(separator: "\n")
    }

    /// `sous params --json`'s list, as name → object, params only.
    func params(_ reference: String) throws -> [String: [String: Any]] {
        let out = try sous("params", reference, "--json")
        #expect(out.status == 0, "\(out.stderr)")
        let list = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: list.filter { $0["kind"] as? String == "param" }.map { ($0["name"] as? String ?? "", $0) })
    }

    @Test func theTemplateValidatesRunsAndItsDeploymentValidatesUncommented() throws {
        let made = try sous("new", "hello")
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.hasPrefix("wrote hello.yaml ("))
        let again = try sous("new", "hello")
        #expect(again.status == 64)
        #expect(again.stderr.contains("hello.yaml exists; sous new never overwrites a file"))
        let validate = try sous("validate", "hello.yaml")
        #expect(validate.stdout == "hello.yaml: ok (3 steps, 9 params, 1 secrets)\n", "\(validate.stdout)\(validate.stderr)")
        let run = try sous("run", "hello.yaml")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("workspace/hello/work/model.tar.gz").path))
        var deploy = uncomment(try read("hello.yaml"), from: "# ---- deploy", includingMarker: false)
        deploy = deploy.replacingOccurrences(of: "\n# local: true\n", with: "\nlocal: true\n")
        try deploy.write(to: dir.appendingPathComponent("deploy.yaml"), atomically: true, encoding: .utf8)
        let full = try sous("validate", "deploy.yaml")
        #expect(full.stdout == "deploy.yaml: ok (11 steps, 9 params, 1 secrets)\n", "\(full.stdout)\(full.stderr)\n\(deploy)")
    }

    @Test func newFromALocalRecipeExtendsItAndListsItsParams() throws {
        let made = try sous("new", "mine", "--from", recipe("llama2-7b-tgi.yaml"), "--dir", "sub")
        #expect(made.status == 0, "\(made.stderr)")
        let text = try read("sub/mine.yaml")
        #expect(text.contains("\nextends: \(recipe("llama2-7b-tgi.yaml"))\n") || text.contains("\nextends: ../"), "\(text)")
        #expect(text.contains("\n# params:\n"), "\(text)")
        #expect(text.contains("\n#   model_id: {default: meta-llama/Llama-2-7b-chat-hf}\n"), "\(text)")
        #expect(text.contains("#   # the model TGI serves (a Hub id, or a local snapshot folder); sous downloads it and serves it from S3; string, from "), "\(text)")
        let validate = try sous("validate", "sub/mine.yaml")
        #expect(validate.status == 0, "\(validate.stderr)")
        // Uncommenting the whole block changes nothing: every default is the base's.
        try uncomment(text, from: "# params:").write(to: dir.appendingPathComponent("sub/all.yaml"), atomically: true, encoding: .utf8)
        let all = try sous("validate", "sub/all.yaml")
        #expect(all.status == 0, "\(all.stderr)\n\(uncomment(text, from: "# params:"))")
        let before = try params(recipe("llama2-7b-tgi.yaml"))
        let after = try params("sub/all.yaml")
        #expect(Set(before.keys) == Set(after.keys))
        for (name, p) in before {
            #expect("\(p["default"] ?? "none")" == "\(after[name]?["default"] ?? "none")", "\(name)")
            #expect(p["description"] as? String == after[name]?["description"] as? String, "\(name)")
        }
    }

    @Test func newInlineWritesOneFileThatBehavesLikeTheRecipe() throws {
        let made = try sous("new", "quick", "--from", recipe("quickstart.yaml"), "--inline")
        #expect(made.status == 0, "\(made.stderr)")
        let text = try read("quick.yaml")
        #expect(!text.contains("extends:") && !text.contains("include:"), "\(text)")
        let original = try sous("validate", recipe("quickstart.yaml"))
        let inlined = try sous("validate", "quick.yaml")
        #expect(inlined.status == 0, "\(inlined.stderr)")
        let counts = { (s: String) in s.split(separator: ":").last.map(String.init) ?? "" }
        #expect(counts(inlined.stdout) == counts(original.stdout), "\(original.stdout) vs \(inlined.stdout)")
        let before = try params(recipe("quickstart.yaml"))
        let after = try params("quick.yaml")
        let recipesDir = TestPaths.packageRoot.appendingPathComponent("recipes").standardizedFileURL.path
        for (name, p) in before {
            let expected = "\(p["default"] ?? "none")".replacingOccurrences(of: "${{ recipe.dir }}", with: recipesDir)
            #expect(expected == "\(after[name]?["default"] ?? "none")", "\(name)")
            #expect(p["type"] as? String == after[name]?["type"] as? String, "\(name)")
        }
        #expect(Set(before.keys) == Set(after.keys))
        // Key order is kept: params and steps in the order the merge produced.
        let stepIDs = text.split(separator: "\n").filter { $0.hasPrefix("- id: ") }
        #expect(stepIDs.first == "- id: preflight", "\(text)")
    }

    @Test func paramsListsTypesDefaultsDescriptionsAndFiles() throws {
        let root = TestPaths.packageRoot
        let out = try sous("params", "recipes/llama2-7b-tgi.yaml", cwd: root)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.hasPrefix("recipes/llama2-7b-tgi.yaml: "), "\(out.stdout)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        let i = try #require(lines.firstIndex { $0.hasPrefix("  model_id ") })
        #expect(lines[i].hasSuffix("  string        default meta-llama/Llama-2-7b-chat-hf"), "\(lines[i])")
        #expect(lines[i + 1].trimmingCharacters(in: .whitespaces) == "the model TGI serves (a Hub id, or a local snapshot folder); sous downloads it and serves it from S3")
        #expect(
            lines[i + 2].trimmingCharacters(in: .whitespaces)
                == "declared in recipes/base/llama2-tgi.yaml, default set in recipes/llama2-7b-tgi.yaml")
        #expect(out.stdout.contains("\nsecrets (values are read at run time, never stored):\n  hf_token"), "\(out.stdout)")
        #expect(out.stdout.contains("env:HF_TOKEN  optional"), "\(out.stdout)")

        let json = try sous("params", "recipes/llama2-7b-tgi.yaml", "--json", cwd: root)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let model = try #require(list.first { $0["name"] as? String == "model_id" })
        #expect(model["kind"] as? String == "param")
        #expect(model["type"] as? String == "string")
        #expect(model["default"] as? String == "meta-llama/Llama-2-7b-chat-hf")
        #expect(model["required"] as? Bool == false)
        #expect(model["description"] as? String == "the model TGI serves (a Hub id, or a local snapshot folder); sous downloads it and serves it from S3")
        #expect(model["file"] as? String == "recipes/base/llama2-tgi.yaml")
        #expect(model["default_file"] as? String == "recipes/llama2-7b-tgi.yaml")
        let askParam = try #require(list.first { $0["name"] as? String == "user_ask_1" })
        #expect(askParam["file"] as? String == "recipes/base/llama2-common.yaml")
        let secret = try #require(list.first { $0["kind"] as? String == "secret" })
        #expect(secret["name"] as? String == "hf_token")
        #expect(secret["source"] as? String == "env:HF_TOKEN")
        #expect(secret["required"] as? Bool == false)
    }
}
