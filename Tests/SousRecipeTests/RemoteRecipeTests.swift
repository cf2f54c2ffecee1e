import Foundation
import SousRecipe
import SousTestSupport
import Synchronization
import Testing

/// Remote references (`https://`, `github:`, pins, RFC 3986 resolution with a shared recipe's
/// limits) and the loader fetching through a ``RemoteRecipeFetcher``, without a network.
@Suite struct RemoteRecipeTests {
    // MARK: - references

    @Test func gitHubShorthandMapsToRawGitHubUserContent() throws {
        #expect(
            try RemoteRecipeReference.parse("github:acme/recipes/llm/llama.yaml@v1.2").url
                == "https://raw.githubusercontent.com/acme/recipes/v1.2/llm/llama.yaml")
        #expect(
            try RemoteRecipeReference.parse("github:acme/recipes/llama.yaml").url
                == "https://raw.githubusercontent.com/acme/recipes/main/llama.yaml")
        #expect(
            try RemoteRecipeReference.parse("github:acme/recipes/a/b.yaml@feature/x").url
                == "https://raw.githubusercontent.com/acme/recipes/feature/x/a/b.yaml")
        let pin = String(repeating: "ab", count: 32)
        let pinned = try RemoteRecipeReference.parse("github:acme/recipes/llama.yaml@4f2c9e1#sha256=\(pin.uppercased())")
        #expect(pinned == RemoteRecipeReference(url: "https://raw.githubusercontent.com/acme/recipes/4f2c9e1/llama.yaml", sha256: pin))
        #expect(pinned.stem == "llama")
        #expect(pinned.folder == "https://raw.githubusercontent.com/acme/recipes/4f2c9e1")
        for bad in ["github:acme/recipes", "github:acme/recipes/x.yaml@", "github:/recipes/x.yaml", "github:acme/r/../x.yaml"] {
            #expect(throws: RecipeReferenceError.self, "\(bad)") { try RemoteRecipeReference.parse(bad) }
        }
    }

    @Test func urlsArePinnedHTTPSOrLoopbackHTTP() throws {
        let sha = String(repeating: "0f", count: 32)
        #expect(try RemoteRecipeReference.parse("https://example.com/a/./r.yaml#sha256=\(sha)") == .init(url: "https://example.com/a/r.yaml", sha256: sha))
        #expect(try RemoteRecipeReference.parse("http://127.0.0.1:8080/r.yaml").url == "http://127.0.0.1:8080/r.yaml")
        #expect(try RemoteRecipeReference.parse("http://localhost/r.yaml").url == "http://localhost/r.yaml")
        func message(_ text: String) -> String {
            do {
                _ = try RemoteRecipeReference.parse(text)
                return "accepted"
            } catch { return error.description }
        }
        #expect(message("http://example.com/r.yaml").contains("plain http: recipes are fetched over https://"))
        #expect(message("s3://bucket/r.yaml").hasPrefix("unsupported URL scheme 's3'"))
        #expect(message("https://example.com/r.yaml#sha256=abc").contains("64 hex digits"))
        #expect(message("https://example.com/r.yaml#main").contains("#sha256=<64 hex digits>"))
        #expect(message("https://user:secret@example.com/r.yaml").contains("may not hold credentials"))
        #expect(!message("https://user:secret@example.com/r.yaml").contains("secret@"))
        #expect(message("https://example.com/../r.yaml") == "'https://example.com/../r.yaml' climbs above the root of https://example.com/")
    }

    @Test func relativeReferencesResolveAgainstTheURLWithinItsHost() throws {
        let base = RemoteRecipeReference(url: "https://example.com/recipes/llm/r.yaml")
        #expect(try base.resolve("base.yaml").url == "https://example.com/recipes/llm/base.yaml")
        #expect(try base.resolve("./common/../base.yaml").url == "https://example.com/recipes/llm/base.yaml")
        #expect(try base.resolve("../../shared/steps.yaml").url == "https://example.com/shared/steps.yaml")
        #expect(try base.resolve("//mirror.example.org/x.yaml").url == "https://mirror.example.org/x.yaml")
        #expect(try base.resolve("https://other.example.org/b.yaml").url == "https://other.example.org/b.yaml")
        let sha = String(repeating: "12", count: 32)
        #expect(try base.resolve("base.yaml#sha256=\(sha)") == .init(url: "https://example.com/recipes/llm/base.yaml", sha256: sha))
        func message(_ text: String) -> String {
            do {
                _ = try base.resolve(text)
                return "accepted"
            } catch { return error.description }
        }
        #expect(
            message("../../../x.yaml")
                == "'../../../x.yaml' climbs above the root of https://example.com/ (relative to https://example.com/recipes/llm/r.yaml)")
        #expect(message("/etc/passwd").hasPrefix("'/etc/passwd' is a path on this machine, and a shared recipe can't read your files"))
        #expect(message("~/x.yaml").hasPrefix("'~/x.yaml' is a path on this machine"))
        #expect(message("http://127.0.0.1:9/x.yaml").contains("may only reference https URLs"))
    }

    // MARK: - loading through a fetcher

    /// Serves files from a dictionary of URL → text; records what it was asked.
    final class FakeFetcher: RemoteRecipeFetcher {
        let files: [String: String]
        private let askedList = Mutex<[String]>([])
        init(_ files: [String: String]) { self.files = files }

        var asked: [String] { askedList.withLock { $0 } }

        func fetch(_ reference: RemoteRecipeReference) async throws(RemoteFetchError) -> FetchedRecipeFile {
            askedList.withLock { $0.append(reference.description) }
            guard let text = files[reference.url] else { throw RemoteFetchError("HTTP 404 Not Found") }
            return FetchedRecipeFile(text: text, sha256: Self.fakeHash(text))
        }

        /// Not SHA-256 (SousRecipe has no crypto): a stand-in 64-hex-digit hash.
        static func fakeHash(_ text: String) -> String {
            var h: UInt64 = 1_469_598_103_934_665_603
            for b in text.utf8 { h = (h ^ UInt64(b)) &* 1_099_511_628_211 }
            return String(repeating: String(h, radix: 16).padding(toLength: 16, withPad: "0", startingAt: 0), count: 4)
        }
    }

    static let kinds = RecipeCompositionTests.kinds

    static let site = [
        "https://example.com/r/child.yaml": """
            extends: base/base.yaml
            params:
              model: {default: tiny}
            steps:
              - include: ../steps/more.yaml
            """,
        "https://example.com/r/base/base.yaml": """
            description: a shared base
            params:
              model: {type: string, required: true, description: the model}
              where: ${{ recipe.dir }}/models
            steps:
              - id: fetch
                uses: fetch
                with: {model: "${{ params.model }}"}
            """,
        "https://example.com/steps/more.yaml": """
            - id: say
              uses: print
              with: {message: "${{ params.where }}"}
            """,
    ]

    @Test func aRemoteRecipeExtendsAndIncludesFilesBesideIt() async throws {
        let fetcher = FakeFetcher(Self.site)
        let recipe = try await RecipeLoader(kinds: Self.kinds, fetcher: fetcher).load(reference: "https://example.com/r/child.yaml")
        #expect(recipe.name == "child")
        #expect(recipe.path == "https://example.com/r/child.yaml")
        #expect(recipe.directory == "https://example.com/r")
        #expect(recipe.isRemote)
        #expect(recipe.steps.map(\.id) == ["fetch", "say"])
        #expect(recipe.description == "a shared base")
        #expect(
            recipe.sources.map(\.path) == [
                "https://example.com/r/child.yaml", "https://example.com/steps/more.yaml", "https://example.com/r/base/base.yaml",
            ])
        #expect(recipe.sources.allSatisfy { $0.sha256 == FakeFetcher.fakeHash($0.text) })
        #expect(Set(fetcher.asked).count == fetcher.asked.count, "each file is fetched once: \(fetcher.asked)")
        let model = try #require(recipe.param("model"))
        #expect(model.declaredIn == "https://example.com/r/base/base.yaml")
        #expect(model.defaultIn == "https://example.com/r/child.yaml")
        #expect(model.description == "the model")
        let params = try recipe.resolveParams(overrides: [])
        #expect(params["where"] == .string("https://example.com/r/models"))
    }

    @Test func aLocalRecipeMayExtendAURLAndAPinIsChecked() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-remote")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = Self.site["https://example.com/r/base/base.yaml"]!
        let good = FakeFetcher.fakeHash(base)
        let bad = String(repeating: "e", count: 64)
        let path = dir.appendingPathComponent("mine.yaml").path
        let loader = RecipeLoader(kinds: Self.kinds, fetcher: FakeFetcher(Self.site))
        try "extends: https://example.com/r/base/base.yaml#sha256=\(good)\nparams: {model: {default: x}}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let recipe = try await loader.load(reference: path)
        #expect(recipe.directory == dir.standardizedFileURL.path)
        #expect(recipe.sources.map(\.sha256) == [nil, good])
        try "extends: https://example.com/r/base/base.yaml#sha256=\(bad)\nparams: {model: {default: x}}\n".write(toFile: path, atomically: true, encoding: .utf8)
        await #expect {
            try await loader.load(reference: path)
        } throws: { error in
            (error as? RecipeError)?.description == """
                \(path):1:10: error: base recipe https://example.com/r/base/base.yaml: expected sha256 \(bad), got \(good)
                extends: https://example.com/r/base/base.yaml#sha256=\(bad)
                         ^
                """
        }
    }

    @Test func aSharedRecipeCannotReadLocalFiles() async throws {
        let site = [
            "https://example.com/evil.yaml": "extends: /etc/passwd\nsteps:\n  - include: ~/.aws/credentials\n  - {id: a, uses: print, with: {message: hi}}\n"
        ]
        let loader = RecipeLoader(kinds: Self.kinds, fetcher: FakeFetcher(site))
        await #expect {
            try await loader.load(reference: "https://example.com/evil.yaml")
        } throws: { error in
            (error as? RecipeError)?.description == """
                https://example.com/evil.yaml:3:14: error: 'include': '~/.aws/credentials' is a path on this machine, and a shared recipe can't read your files: a recipe fetched from https://example.com/evil.yaml may reference files beside it (relative paths) or URLs
                  - include: ~/.aws/credentials
                             ^
                https://example.com/evil.yaml:1:10: error: 'extends': '/etc/passwd' is a path on this machine, and a shared recipe can't read your files: a recipe fetched from https://example.com/evil.yaml may reference files beside it (relative paths) or URLs
                extends: /etc/passwd
                         ^
                """
        }
    }

    @Test func fetchFailuresAreReportedAtTheReference() async throws {
        let site = ["https://example.com/r.yaml": "extends: gone.yaml\nsteps:\n  - {id: a, uses: print, with: {message: hi}}\n"]
        let loader = RecipeLoader(kinds: Self.kinds, fetcher: FakeFetcher(site))
        await #expect {
            try await loader.load(reference: "https://example.com/r.yaml")
        } throws: { error in
            (error as? RecipeError)?.description == """
                https://example.com/r.yaml:1:10: error: cannot fetch base recipe 'gone.yaml': HTTP 404 Not Found
                extends: gone.yaml
                         ^
                """
        }
        await #expect {
            try await loader.load(reference: "https://example.com/nowhere.yaml")
        } throws: { error in
            (error as? RecipeError)?.description == "https://example.com/nowhere.yaml:1:1: error: cannot fetch recipe: HTTP 404 Not Found"
        }
        await #expect {
            try await RecipeLoader(kinds: Self.kinds).load(reference: "https://example.com/r.yaml")
        } throws: { error in
            (error as? RecipeError)?.description.contains("remote recipes need a fetcher") == true
        }
    }

    @Test func aCycleAcrossURLsIsReported() async throws {
        let site = [
            "https://example.com/a.yaml": "extends: b.yaml\nsteps: []\n",
            "https://example.com/b.yaml": "extends: a.yaml\nsteps: []\n",
        ]
        await #expect {
            try await RecipeLoader(kinds: Self.kinds, fetcher: FakeFetcher(site)).load(reference: "https://example.com/a.yaml")
        } throws: { error in
            (error as? RecipeError)?.description.contains(
                "extends cycle: https://example.com/a.yaml -> https://example.com/b.yaml -> https://example.com/a.yaml") == true
        }
    }
}
