import Foundation
import SousRecipe
import SousTestSupport
import Testing

/// `extends:`, `include:` and `${{ recipe.dir }}`: recipes written as files in a temporary folder.
@Suite struct RecipeCompositionTests {
    /// Step kinds standing in for the built-in ones.
    static let kinds: [String: StepKindSchema] = {
        let list = [
            StepKindSchema(
                kind: "fetch", version: 1, category: .pure, summary: "download",
                inputs: [InputSpec("model", .string, required: true, "model id"), InputSpec("into", .path, "folder")],
                outputs: [OutputSpec("dir", .path, "where")]),
            StepKindSchema(
                kind: "deploy", version: 1, category: .create, summary: "deploy",
                inputs: [
                    InputSpec("image", .string, required: true, "image"), InputSpec("env", .map, "environment"),
                    InputSpec("instance_type", .string, "instance"), InputSpec("stop", .list, "stop words"),
                ],
                outputs: [OutputSpec("endpoint", .string, "name")]),
            StepKindSchema(
                kind: "print", version: 1, category: .effect, summary: "print",
                inputs: [InputSpec("message", .any, required: true, "text")], outputs: []),
        ]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.kind, $0) })
    }()

    let dir: URL

    init() throws { dir = try TestPaths.makeTemporaryDirectory("sous-recipe") }

    /// Writes `text` (plus a final newline) at `relative` under the test folder; returns its path.
    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try (text + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func load(_ relative: String) throws -> Recipe {
        defer { try? FileManager.default.removeItem(at: dir) }
        return try RecipeLoader(kinds: Self.kinds).load(path: dir.appendingPathComponent(relative).path)
    }

    /// The rendered diagnostics of a recipe that must fail, with the test folder written as `$DIR`.
    func failure(_ relative: String) -> String {
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try RecipeLoader(kinds: Self.kinds).load(path: dir.appendingPathComponent(relative).path)
            Issue.record("\(relative) was accepted")
            return ""
        } catch {
            return error.description.replacingOccurrences(of: dir.path, with: "$DIR")
        }
    }

    static let base = """
        name: base-recipe
        description: the base
        local: true
        params:
          model_id: {type: string, default: meta-llama/Llama-2-13b-chat-hf, description: the model}
          temperature: {type: number, default: 0.5, description: sampling}
          region: {type: string, required: true}
        secrets:
          hf_token: env:HF_TOKEN
        steps:
          - id: fetch
            uses: fetch
            with: {model: "${{ params.model_id }}"}
          - id: deploy
            uses: deploy
            name: Deploy
            with:
              image: tgi
              instance_type: ml.g5.12xlarge
              stop: ["</s>", "<eos>"]
              env:
                HF_MODEL_ID: ${{ params.model_id }}
                MAX_INPUT_LENGTH: "2048"
                MAX_BATCH_TOTAL_TOKENS: "8192"
          - id: ask
            uses: print
            with: {message: "${{ steps.deploy.outputs.endpoint }}"}
          - id: cleanup
            uses: print
            with: {message: bye}
        """

    // MARK: - merging

    @Test func paramsMergeFieldByField() throws {
        try write("base.yaml", Self.base)
        try write(
            "child.yaml",
            """
            extends: base.yaml
            params:
              model_id: {default: meta-llama/Llama-2-7b-chat-hf}
              temperature: 0.9
              region: us-east-1
              extra: 3
            """)
        let r = try load("child.yaml")
        #expect(r.params.map(\.name) == ["model_id", "temperature", "region", "extra"])
        let model = try #require(r.param("model_id"))
        #expect(model.type == .string && model.defaultValue == "meta-llama/Llama-2-7b-chat-hf" && model.description == "the model")
        let temperature = try #require(r.param("temperature"))
        #expect(temperature.type == .number && temperature.defaultValue == .number(0.9) && temperature.description == "sampling")
        // A child default for a required base param makes it optional.
        let region = try #require(r.param("region"))
        #expect(region.type == .string && region.defaultValue == "us-east-1" && !region.required)
        #expect(r.param("extra")?.defaultValue == 3)
        #expect(r.secret("hf_token")?.source == .env("HF_TOKEN"))
    }

    @Test("budget: max_hourly_cost is read with its position, inherited from a base, replaced by a child's")
    func budgetIsReadAndInherited() throws {
        try write("base.yaml", "budget:\n  max_hourly_cost: 25\nsteps:\n  - id: hi\n    uses: print\n    with: {message: hi}")
        try write("child.yaml", "extends: base.yaml")
        try write("own.yaml", "extends: base.yaml\nbudget: {max_hourly_cost: 2.5}")
        let loader = RecipeLoader(kinds: Self.kinds)
        let inherited = try #require(try loader.load(path: dir.appendingPathComponent("child.yaml").path).budget)
        #expect(inherited.maxHourlyCost == 25)
        #expect(inherited.position(recipe: "child.yaml") == "\(dir.path)/base.yaml:2:20")
        let own = try #require(try load("own.yaml").budget)
        #expect(own.maxHourlyCost == 2.5 && own.position(recipe: "own.yaml").hasSuffix("/own.yaml:2:27"))
    }

    @Test("a budget that is not a map of max_hourly_cost above 0 is refused at its position")
    func budgetErrorsPointAtThePlace() throws {
        try write("bad.yaml", """
            budget:
              max_hourly_cots: 10
              max_hourly_cost: -3
            steps:
              - id: hi
                uses: print
                with: {message: hi}
            """)
        let bad = failure("bad.yaml")
        #expect(bad.contains("$DIR/bad.yaml:2:3: error: budget: unknown key 'max_hourly_cots'; did you mean 'max_hourly_cost'? (known: max_hourly_cost)"), "\(bad)")
        #expect(bad.contains("$DIR/bad.yaml:3:20: error: budget: 'max_hourly_cost' must be a number of US dollars per hour above 0, found '-3'"), "\(bad)")
        let f2 = try RecipeCompositionTests()
        try f2.write("scalar.yaml", "budget: 10\nsteps:\n  - id: hi\n    uses: print\n    with: {message: hi}")
        let scalar = f2.failure("scalar.yaml")
        #expect(scalar.contains("$DIR/scalar.yaml:1:9: error: 'budget' must be a map, e.g. budget: {max_hourly_cost: 25} (USD per hour), found a scalar"), "\(scalar)")
    }

    @Test func nameIsTheChildsDescriptionAndLocalAreInherited() throws {
        try write("base.yaml", Self.base)
        try write("child.yaml", "extends: base.yaml\nparams: {region: eu-west-1}")
        try write("named.yaml", "extends: ./base.yaml\nname: my-llama\ndescription: mine\nlocal: false\nparams: {region: eu-west-1}")
        let child = try RecipeLoader(kinds: Self.kinds).load(path: dir.appendingPathComponent("child.yaml").path)
        #expect(child.name == "child" && child.description == "the base" && child.local)
        let named = try load("named.yaml")
        #expect(named.name == "my-llama" && named.description == "mine" && !named.local)
    }

    @Test func stepsMergeWithMapsDeeplyAndListsWhole() throws {
        try write("base.yaml", Self.base)
        try write(
            "child.yaml",
            """
            extends: base.yaml
            params: {region: eu-west-1}
            steps:
              - id: deploy
                name: Deploy bigger
                with:
                  stop: ["###"]
                  env: {MAX_BATCH_TOTAL_TOKENS: "32768", EXTRA: "1"}
            """)
        let r = try load("child.yaml")
        #expect(r.steps.map(\.id) == ["fetch", "deploy", "ask", "cleanup"])
        let deploy = try #require(r.step("deploy"))
        #expect(deploy.uses == "deploy" && deploy.title == "Deploy bigger")
        #expect(deploy.input("instance_type")?.literalValue == "ml.g5.12xlarge")
        #expect(deploy.input("stop")?.literalValue == .list(["###"]))
        let env = try #require(deploy.input("env"))
        guard case .map(let entries, _) = env else {
            Issue.record("env is not a map: \(env)")
            return
        }
        #expect(entries.map(\.key) == ["HF_MODEL_ID", "MAX_INPUT_LENGTH", "MAX_BATCH_TOTAL_TOKENS", "EXTRA"])
        #expect(entries.map { $0.value.literalValue } == [nil, "2048", "32768", "1"])
        #expect(entries[0].value.references.map(\.0) == [.param("model_id")])
    }

    @Test func stepsAreRemovedPlacedAndAppended() throws {
        try write("base.yaml", Self.base)
        try write(
            "child.yaml",
            """
            extends: base.yaml
            params: {region: eu-west-1}
            steps:
              - id: tail
                uses: print
                with: {message: last}
              - id: ask
                remove: true
              - id: warm
                after: deploy
                uses: print
                with: {message: "${{ steps.deploy.outputs.endpoint }}"}
              - id: hello
                before: fetch
                uses: print
                with: {message: hi}
              - id: cleanup
                after: tail
            """)
        let r = try load("child.yaml")
        #expect(r.steps.map(\.id) == ["hello", "fetch", "deploy", "warm", "tail", "cleanup"])
        #expect(r.step("cleanup")?.input("message")?.literalValue == "bye")
    }

    @Test func includeSplicesListAndMapFilesNestedAndRelative() throws {
        try write(
            "recipe.yaml",
            """
            params: {model_id: m}
            steps:
              - id: first
                uses: print
                with: {message: one}
              - include: parts/list.yaml
              - id: last
                uses: print
                with: {message: "${{ steps.fetch.outputs.dir }}"}
            """)
        try write(
            "parts/list.yaml",
            """
            - id: fetch
              uses: fetch
              with: {model: "${{ params.model_id }}"}
            - include: more/map.yaml
            """)
        try write(
            "parts/more/map.yaml",
            """
            steps:
              - id: shout
                uses: print
                with: {message: "${{ steps.fetch.outputs.dir }}"}
            """)
        let r = try load("recipe.yaml")
        #expect(r.steps.map(\.id) == ["first", "fetch", "shout", "last"])
        #expect(r.sources.map(\.path) == ["recipe.yaml", "parts/list.yaml", "parts/more/map.yaml"].map { dir.path + "/" + $0 })
    }

    @Test func aChainOfThreeBasesInOtherFolders() throws {
        try write(
            "common/root.yaml",
            """
            params:
              model_id: {type: string, default: root-model, description: from root}
              size: {type: int, default: 1}
            steps:
              - id: fetch
                uses: fetch
                with: {model: "${{ params.model_id }}", into: "${{ recipe.dir }}/weights"}
              - id: say
                uses: print
                with: {message: root}
            """)
        try write(
            "common/middle.yaml",
            """
            extends: root.yaml
            description: middle
            params:
              size: 2
            steps:
              - id: say
                with: {message: middle}
              - id: more
                uses: print
                with: {message: "${{ params.size }}"}
            """)
        try write(
            "team/leaf.yaml",
            """
            extends: ../common/middle.yaml
            params:
              model_id: {default: leaf-model}
            steps:
              - id: more
                remove: true
            """)
        let r = try load("team/leaf.yaml")
        #expect(r.name == "leaf" && r.description == "middle")
        #expect(r.param("model_id")?.defaultValue == "leaf-model" && r.param("model_id")?.description == "from root")
        #expect(r.param("size")?.type == .int && r.param("size")?.defaultValue == 2)
        #expect(r.steps.map(\.id) == ["fetch", "say"])
        #expect(r.step("say")?.input("message")?.literalValue == "middle")
        #expect(r.directory == dir.path + "/team")
        #expect(r.sources.map(\.path) == ["team/leaf.yaml", "common/middle.yaml", "common/root.yaml"].map { dir.path + "/" + $0 })
    }

    // MARK: - recipe.dir

    @Test func recipeDirIsTheTopRecipesAbsoluteFolder() throws {
        try write("base.yaml", "steps:\n  - id: a\n    uses: print\n    with: {message: \"${{ recipe.dir }}/x\"}")
        try write("sub/child.yaml", "extends: ../base.yaml")
        let r = try load("sub/child.yaml")
        #expect(r.directory == dir.path + "/sub")
        let refs = r.step("a")?.input("message")?.references.map(\.0)
        #expect(refs == [.recipeDir])
        #expect(Reference.recipeDir.description == "recipe.dir")
        let resolved = r.step("a")?.input("message")?.resolve { ref in ref == .recipeDir ? .string(r.directory) : .null }
        #expect(resolved == .string(dir.path + "/sub/x"))
        // A relative path on the command line still gives an absolute folder.
        let relative = try RecipeLoader(kinds: Self.kinds).parse(
            text: "steps:\n  - {id: a, uses: print, with: {message: hi}}\n", path: "some/r.yaml", defaultName: "r")
        #expect(relative.directory == FileManager.default.currentDirectoryPath + "/some")
    }

    // MARK: - errors, in the file that holds the offending node

    @Test func anErrorInsideTheBaseIsReportedInTheBase() throws {
        try write(
            "base.yaml",
            """
            steps:
              - id: a
                uses: print
                with: {message: hi}
              - id: b
                uses: deploy
                with:
                  image: tgi
                  instanse_type: big
            """)
        try write(
            "child.yaml",
            """
            extends: base.yaml
            steps:
              - id: c
                uses: prnt
            """)
        #expect(
            failure("child.yaml") == """
                $DIR/base.yaml:9:7: error: step 'b' (deploy): unknown input 'instanse_type'; did you mean 'instance_type'? (inputs: image, env, instance_type, stop)
                      instanse_type: big
                      ^
                $DIR/child.yaml:4:11: error: unknown step kind 'prnt'; did you mean 'print'? (`sous steps` lists them)
                    uses: prnt
                          ^
                """)
    }

    @Test func aDiagnosticFoundLaterPointsIntoTheBase() throws {
        try write("base.yaml", "params:\n  region: {type: string, required: true}\nsteps:\n  - {id: a, uses: print, with: {message: hi}}")
        try write("child.yaml", "extends: base.yaml")
        let r = try load("child.yaml")
        do {
            _ = try r.resolveParams(overrides: [])
            Issue.record("a required param was not reported")
        } catch let e as RecipeError {
            #expect(
                e.description.replacingOccurrences(of: dir.path, with: "$DIR") == """
                    $DIR/base.yaml:2:3: error: required param 'region' was not given (pass -p region=VALUE or --params FILE.yaml)
                      region: {type: string, required: true}
                      ^
                    """)
        }
    }

    @Test func extendsCycleIsReportedAtTheExtendsThatClosesIt() throws {
        try write("a.yaml", "extends: b.yaml\nsteps:\n  - {id: a, uses: print, with: {message: hi}}")
        try write("b.yaml", "# b\nextends: ./a.yaml")
        #expect(
            failure("a.yaml") == """
                $DIR/b.yaml:2:10: error: extends cycle: $DIR/a.yaml -> $DIR/b.yaml -> $DIR/a.yaml
                extends: ./a.yaml
                         ^
                """)
    }

    @Test func aRecipeExtendingItselfIsACycle() throws {
        try write("self.yaml", "extends: self.yaml\nsteps:\n  - {id: a, uses: print, with: {message: hi}}")
        #expect(
            failure("self.yaml") == """
                $DIR/self.yaml:1:10: error: extends cycle: $DIR/self.yaml -> $DIR/self.yaml
                extends: self.yaml
                         ^
                """)
    }

    @Test func includeCycleIsReportedAtTheIncludeThatClosesIt() throws {
        try write("r.yaml", "steps:\n  - include: one.yaml")
        try write("one.yaml", "- {id: a, uses: print, with: {message: hi}}\n- include: two.yaml")
        try write("two.yaml", "steps:\n  - include: one.yaml")
        #expect(
            failure("r.yaml") == """
                $DIR/two.yaml:2:14: error: include cycle: $DIR/one.yaml -> $DIR/two.yaml -> $DIR/one.yaml
                  - include: one.yaml
                             ^
                """)
    }

    @Test func aDuplicateIdFromAnIncludedFilePointsAtThatFile() throws {
        try write("r.yaml", "steps:\n  - id: a\n    uses: print\n    with: {message: hi}\n  - include: more.yaml")
        try write("more.yaml", "- id: a\n  uses: print\n  with: {message: again}")
        #expect(
            failure("r.yaml") == """
                $DIR/more.yaml:1:7: error: duplicate step id 'a' (first used at $DIR/r.yaml:2)
                - id: a
                      ^
                """)
    }

    @Test func anUnknownStepInAfterIsReportedAtItsValue() throws {
        try write("base.yaml", Self.base)
        try write(
            "child.yaml",
            """
            extends: base.yaml
            params: {region: eu-west-1}
            steps:
              - id: warm
                uses: print
                after: deplyo
                with: {message: hi}
            """)
        #expect(
            failure("child.yaml") == """
                $DIR/child.yaml:6:12: error: step 'warm': unknown step 'deplyo' in 'after'; did you mean 'deploy'? (steps so far: fetch, deploy, ask, cleanup)
                    after: deplyo
                           ^
                """)
    }

    @Test func removingAStepTheBaseLacksIsAnError() throws {
        try write("base.yaml", Self.base)
        try write("child.yaml", "extends: base.yaml\nparams: {region: x}\nsteps:\n  - id: clenup\n    remove: true")
        #expect(
            failure("child.yaml") == """
                $DIR/child.yaml:5:5: error: step 'clenup': the base recipe has no step 'clenup' to remove; did you mean 'cleanup'?
                    remove: true
                    ^
                """)
    }

    @Test func aRemoteReferenceNeedsAFetcherAndASupportedScheme() throws {
        try write("r.yaml", "extends: https://example.com/recipes/base.yaml\nsteps:\n  - include: s3://bucket/steps.yaml")
        #expect(
            failure("r.yaml") == """
                $DIR/r.yaml:3:14: error: 'include': unsupported URL scheme 's3' ('s3://bucket/steps.yaml'): a recipe reference is a path, an https:// URL or github:owner/repo/path@ref
                  - include: s3://bucket/steps.yaml
                             ^
                $DIR/r.yaml:1:10: error: 'extends': remote recipes need a fetcher, which this loader was not given ('https://example.com/recipes/base.yaml'); give a local path
                extends: https://example.com/recipes/base.yaml
                         ^
                """)
    }

    @Test func aMissingBaseAndABadIncludedFile() throws {
        try write("r.yaml", "extends: nowhere.yaml\nsteps:\n  - include: bad.yaml\n  - {id: a, uses: print, with: {message: hi}}")
        try write("bad.yaml", "name: x\nsteps: []")
        #expect(
            failure("r.yaml") == """
                $DIR/bad.yaml:1:1: error: a file of steps must be a list of steps or a map with only a 'steps' list; found 'name'
                name: x
                ^
                $DIR/r.yaml:1:10: error: cannot open base recipe 'nowhere.yaml': no such file ($DIR/nowhere.yaml)
                extends: nowhere.yaml
                         ^
                """)
    }

    @Test func aYAMLErrorInTheBaseIsReportedInTheBase() throws {
        try write("base.yaml", "steps:\n  - id: a\n    with: {message: 'hi'")
        try write("child.yaml", "extends: base.yaml")
        #expect(
            failure("child.yaml") == """
                $DIR/base.yaml:3:25: error: YAML syntax error: while parsing a flow mapping: did not find expected ',' or '}' (the construct started at line 3, column 11)
                    with: {message: 'hi'
                                        ^
                """)
    }
}
