import Foundation
public import SousYAML

/// A loaded recipe together with its merged sections as YAML (for writing it out as one file).
public struct ComposedRecipe: Sendable {
    public var recipe: Recipe
    /// The recipe merged over its bases, `include:`s spliced in, as one map (`description`,
    /// `local`, `params`, `secrets`, `steps`, in that order; no `name`). Nodes keep their marks.
    public var yaml: YAMLNode
}

/// Loads recipes and checks them against the registered step kinds.
public struct RecipeLoader: Sendable {
    /// The schemas of every known step kind, by `uses:` name.
    public var kinds: [String: StepKindSchema]
    /// Fetches remote files for ``load(reference:)``; without one a URL is an error.
    public var fetcher: (any RemoteRecipeFetcher)?

    public init(kinds: [String: StepKindSchema], fetcher: (any RemoteRecipeFetcher)? = nil) {
        self.kinds = kinds
        self.fetcher = fetcher
    }

    static let topKeys = ["name", "description", "local", "budget", "params", "secrets", "steps", "extends"]
    static let budgetKeys = ["max_hourly_cost"]
    static let stepKeys = ["id", "uses", "name", "with"] + RecipeComposer.stepPlacementKeys
    static let paramKeys = ["type", "default", "required", "description"]
    static let secretKeys = ["from", "required", "description"]
    /// The most remote files one recipe may consist of (a server cannot make a load go on forever).
    static let maxRemoteFiles = 64

    /// Reads and validates the recipe at `path`, with the bases it `extends:` and the files it
    /// `include:`s. Local files only: a URL anywhere is an error (``load(reference:)`` fetches them).
    /// - Throws: ``RecipeError`` listing every problem with its position; or a file error as a
    ///   ``RecipeError`` at 1:1 when the file cannot be read.
    public func load(path: String) throws(RecipeError) -> Recipe {
        let text = try Self.readTop(path)
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try parse(text: text, path: path, defaultName: stem)
    }

    /// Validates recipe text, as the file at `path` (whose folder `extends:` and `include:` paths are
    /// relative to, and which names the recipe when it has no `name:`). Local files only.
    /// - Parameters:
    ///   - text: the recipe's own text.
    ///   - path: where it is, as diagnostics show it.
    ///   - defaultName: the recipe's name when the text gives none (a base's `name:` does not count).
    /// - Throws: ``RecipeError`` listing every problem, each in the file (recipe, base or included
    ///   file) where the offending node is written.
    public func parse(text: String, path: String, defaultName: String) throws(RecipeError) -> Recipe {
        try compose(RecipeFile(path: path, text: text), source: RecipeSource(path: path), defaultName: defaultName, fetched: nil).result.get().recipe
    }

    /// Reads and validates the recipe a command line names: a path, an `https://` URL, or
    /// `github:owner/repo/path@ref`, each URL optionally pinned with `#sha256=<hex>`; remote files
    /// (the recipe, and any base or included file given by URL or by a path relative to a remote
    /// file) come from ``fetcher``.
    ///
    /// Composing stays synchronous (it is pure, and ``load(path:)`` keeps working without a
    /// concurrency context): this composes, collects the remote files it met that are not fetched
    /// yet, fetches them, and composes again until nothing is missing. Each round reads one more
    /// level of `extends:`/`include:`, recipes are a few KB, and every file is fetched once, so the
    /// repeats cost microseconds, while no thread ever blocks on the network.
    /// - Throws: ``RecipeError`` listing every problem; a recipe that cannot be fetched or read is
    ///   one at 1:1 of the reference.
    public func load(reference: String) async throws(RecipeError) -> Recipe {
        try await compose(reference: reference).recipe
    }

    /// ``load(reference:)``, also returning the merged sections as YAML (`sous new --inline`).
    public func compose(reference: String) async throws(RecipeError) -> ComposedRecipe {
        let top: RecipeFile
        let source: RecipeSource
        let defaultName: String
        if RemoteRecipeReference.isRemote(reference) {
            func fail(_ message: String, _ file: String) -> RecipeError {
                RecipeError([Diagnostic(location: .init(file: file, line: 1, column: 1), message: message)])
            }
            let ref: RemoteRecipeReference
            do { ref = try RemoteRecipeReference.parse(reference) } catch { throw fail(error.description, reference) }
            guard let fetcher else {
                throw fail(RecipeSource.Problem.noFetcher(reference).description, ref.url)
            }
            let got: FetchedRecipeFile
            do { got = try await fetcher.fetch(ref) } catch { throw fail("cannot fetch recipe: \(error)", ref.url) }
            if let pin = ref.sha256, pin != got.sha256 {
                throw fail("expected sha256 \(pin), got \(got.sha256)", ref.url)
            }
            source = RecipeSource(remote: ref)
            top = RecipeFile(path: ref.url, text: got.text, sha256: got.sha256)
            defaultName = ref.stem
        } else {
            source = RecipeSource(path: reference)
            top = RecipeFile(path: reference, text: try Self.readTop(reference))
            defaultName = URL(fileURLWithPath: reference).deletingPathExtension().lastPathComponent
        }
        var fetched: [RemoteRecipeReference: Result<FetchedRecipeFile, RemoteFetchError>] = [:]
        while true {
            let (result, missing) = compose(top, source: source, defaultName: defaultName, fetched: fetcher == nil ? nil : fetched)
            guard !missing.isEmpty, let fetcher else { return try result.get() }
            for ref in missing {
                if fetched.count >= Self.maxRemoteFiles {
                    fetched[ref] = .failure(RemoteFetchError("the recipe consists of more than \(Self.maxRemoteFiles) remote files"))
                    continue
                }
                do { fetched[ref] = .success(try await fetcher.fetch(ref)) } catch { fetched[ref] = .failure(error) }
            }
        }
    }

    /// The text of the recipe file named on the command line.
    private static func readTop(_ path: String) throws(RecipeError) -> String {
        do {
            return try RecipeSource(path: path).read()
        } catch {
            let message =
                switch error {
                case .notUTF8: "the recipe is not UTF-8 text"
                case .missing: "cannot open recipe: no such file"
                default: "cannot open recipe: cannot read it"
                }
            throw RecipeError([Diagnostic(location: .init(file: path, line: 1, column: 1), message: message)])
        }
    }

    /// Composes and validates the recipe `top`.
    /// - Parameter fetched: the remote files fetched so far, or nil when remote files cannot be had.
    /// - Returns: the recipe or its problems, and the remote files referenced but not in `fetched`
    ///   (when any, the problems include their absence and the caller fetches them and retries).
    private func compose(
        _ top: RecipeFile, source: RecipeSource, defaultName: String,
        fetched: [RemoteRecipeReference: Result<FetchedRecipeFile, RemoteFetchError>]?
    ) -> (result: Result<ComposedRecipe, RecipeError>, missing: [RemoteRecipeReference]) {
        var composer = RecipeComposer(file: top, fetched: fetched ?? [:], remoteAllowed: fetched != nil)
        let path = top.path
        let root: YAMLNode?
        do {
            root = try YAMLParser.parse(top.text, file: path)
        } catch {
            composer.sink.error("YAML syntax error: \(error.message)", at: error.mark)
            return (.failure(RecipeError(composer.sink.diagnostics)), [])
        }
        guard let root else {
            composer.sink.error("the recipe is empty: it needs at least a 'steps' list", at: YAMLMark(line: 1, column: 1, file: path))
            return (.failure(RecipeError(composer.sink.diagnostics)), [])
        }
        guard case .mapping(let pairs, _) = root else {
            composer.sink.error("a recipe must be a map with a 'steps' list", at: root.mark)
            return (.failure(RecipeError(composer.sink.diagnostics)), [])
        }
        let layer = composer.compose(pairs, from: source, chain: [source])
        var sink = composer.sink
        var recipe = Recipe(
            path: path, directory: source.directory, name: defaultName, description: nil, local: false, params: [], secrets: [],
            steps: [], sources: composer.files)
        if let node = layer.name {
            if let s = node.scalarText, s.wholeMatch(of: #/[A-Za-z0-9][A-Za-z0-9._\-]*/#) != nil {
                recipe.name = s
            } else {
                sink.error("'name' must be letters, digits, '.', '-' or '_' (it names the recipe's folder in the workspace)", at: node.mark)
            }
        }
        recipe.description = layer.description?.scalarText
        if let node = layer.local {
            if case .bool(let b) = Value(yaml: node) { recipe.local = b } else {
                sink.error("'local' must be true or false", at: node.mark)
            }
        }
        if let node = layer.budget { recipe.budget = parseBudget(node, &sink) }
        if let node = layer.params { recipe.params = parseParams(node, file: path, &sink) }
        if let node = layer.secrets { recipe.secrets = parseSecrets(node, file: path, &sink) }
        if case .sequence([], _)? = layer.steps, layer.incomplete {
            // Every step was in a file that could not be read, which is reported already.
        } else if let node = layer.steps {
            recipe.steps = parseSteps(node, &sink)
        } else if !layer.misspeltSteps && !layer.incomplete {
            sink.error("missing required key 'steps'", at: root.mark)
        }
        checkReferences(recipe, &sink)
        if !sink.diagnostics.isEmpty { return (.failure(RecipeError(sink.diagnostics)), composer.missing) }
        return (.success(ComposedRecipe(recipe: recipe, yaml: layer.node(mark: root.mark))), composer.missing)
    }

    /// The message for a `params`, `secrets` or `steps` section of the wrong shape, or nil.
    static func shapeProblem(_ key: String, _ node: YAMLNode) -> String? {
        switch (key, node) {
        case ("params", .mapping), ("secrets", .mapping), ("steps", .sequence): nil
        case ("params", _): "'params' must be a map of name: spec, found \(node.kindDescription)"
        case ("secrets", _): "'secrets' must be a map of name: reference (env:NAME or file:PATH), found \(node.kindDescription)"
        case ("steps", _): "'steps' must be a list of steps, found \(node.kindDescription)"
        default: nil
        }
    }

    /// Whether a param's value is a spec (`{type: …, default: …}`) rather than a shorthand default.
    static func isParamSpec(_ node: YAMLNode) -> Bool {
        guard case .mapping(let fields, _) = node else { return false }
        return fields.allSatisfy { paramKeys.contains($0.key.scalarText ?? "") }
            || fields.contains { ["type", "required", "description"].contains($0.key.scalarText ?? "") }
    }

    // MARK: - budget, params and secrets

    /// `budget: {max_hourly_cost: 25}` (USD per hour, more than 0).
    private func parseBudget(_ node: YAMLNode, _ sink: inout DiagnosticSink) -> RecipeBudget? {
        guard case .mapping(let fields, _) = node else {
            sink.error("'budget' must be a map, e.g. budget: {max_hourly_cost: 25} (USD per hour), found \(node.kindDescription)", at: node.mark)
            return nil
        }
        var budget: RecipeBudget?
        for f in fields {
            let k = f.key.scalarText ?? ""
            guard k == "max_hourly_cost" else {
                sink.error("budget: unknown key '\(k)'\(Suggest.hint(k, Self.budgetKeys)) (known: \(Self.budgetKeys.joined(separator: ", ")))", at: f.key.mark)
                continue
            }
            guard let v = Value(yaml: f.value).doubleValue, v > 0, v.isFinite else {
                sink.error("budget: 'max_hourly_cost' must be a number of US dollars per hour above 0, found '\(f.value.scalarText ?? f.value.kindDescription)'", at: f.value.mark)
                continue
            }
            budget = RecipeBudget(maxHourlyCost: v, mark: f.value.mark)
        }
        if budget == nil, fields.isEmpty {
            sink.error("'budget' is empty: give max_hourly_cost (USD per hour)", at: node.mark)
        }
        return budget
    }

    /// - Parameter file: the top recipe's path (for marks that name no file).
    private func parseParams(_ node: YAMLNode, file: String, _ sink: inout DiagnosticSink) -> [ParamSpec] {
        guard case .mapping(let pairs, _) = node else {
            sink.error(Self.shapeProblem("params", node) ?? "", at: node.mark)
            return []
        }
        var out: [ParamSpec] = []
        for p in pairs {
            guard let name = p.key.scalarText, name.wholeMatch(of: #/[A-Za-z_][A-Za-z0-9_\-]*/#) != nil else {
                sink.error("param names must be identifiers (letters, digits, '_' or '-')", at: p.key.mark)
                continue
            }
            var spec = ParamSpec(
                name: name, type: .any, defaultValue: nil, required: false, description: nil, mark: p.key.mark,
                declaredIn: p.value.mark.file ?? file, defaultIn: nil)
            if Self.isParamSpec(p.value) {
                var typeGiven = false
                guard case .mapping(let fields, _) = p.value else { continue }
                for f in fields {
                    let k = f.key.scalarText ?? ""
                    switch k {
                    case "type":
                        if let t = f.value.scalarText.flatMap(ValueType.init(rawValue:)) {
                            spec.type = t
                            typeGiven = true
                        } else {
                            let given = f.value.scalarText ?? ""
                            sink.error("param '\(name)': unknown type '\(given)'\(Suggest.hint(given, ValueType.allCases.map(\.rawValue))) (types: \(ValueType.allCases.map(\.rawValue).joined(separator: ", ")))", at: f.value.mark)
                        }
                    case "default":
                        spec.defaultValue = Value(yaml: f.value)
                        spec.defaultIn = f.value.mark.file ?? file
                    case "required":
                        if case .bool(let b) = Value(yaml: f.value) { spec.required = b } else {
                            sink.error("param '\(name)': 'required' must be true or false", at: f.value.mark)
                        }
                    case "description": spec.description = f.value.scalarText
                    default:
                        sink.error("param '\(name)': unknown key '\(k)'\(Suggest.hint(k, Self.paramKeys)) (known: \(Self.paramKeys.joined(separator: ", ")))", at: f.key.mark)
                    }
                }
                if let d = spec.defaultValue {
                    if !typeGiven { spec.type = d.type == .any ? .any : d.type }
                    if case .null = d {
                        spec.defaultValue = nil
                        spec.defaultIn = nil
                    } else if !spec.type.accepts(d) {
                        let node = p.value["default"]!
                        sink.error("param '\(name)': default must be \(spec.type.article), found \(describe(d))", at: node.mark)
                    }
                }
                if spec.required, spec.defaultValue != nil {
                    sink.error("param '\(name)' is required and has a default; choose one", at: p.key.mark)
                }
                if let text = spec.defaultValue?.stringValue, let bad = ParamDefault.unsupportedExpression(in: text) {
                    sink.error("param '\(name)': a default may use only ${{ recipe.dir }} and ${{ recipe.name }}, not '\(bad)'", at: p.value["default"]!.mark)
                }
            } else {
                // Shorthand: `name: value` is a default whose type is inferred.
                let v = Value(yaml: p.value)
                spec.defaultValue = v
                spec.defaultIn = spec.declaredIn
                spec.type = v.type
            }
            out.append(spec)
        }
        return out
    }

    private func parseSecrets(_ node: YAMLNode, file: String, _ sink: inout DiagnosticSink) -> [SecretSpec] {
        guard case .mapping(let pairs, _) = node else {
            sink.error(Self.shapeProblem("secrets", node) ?? "", at: node.mark)
            return []
        }
        var out: [SecretSpec] = []
        for p in pairs {
            guard let name = p.key.scalarText, name.wholeMatch(of: #/[A-Za-z_][A-Za-z0-9_\-]*/#) != nil else {
                sink.error("secret names must be identifiers (letters, digits, '_' or '-')", at: p.key.mark)
                continue
            }
            var refNode: YAMLNode? = p.value
            var required = true
            var description: String?
            if case .mapping(let fields, _) = p.value {
                refNode = nil
                for f in fields {
                    let k = f.key.scalarText ?? ""
                    switch k {
                    case "from": refNode = f.value
                    case "required":
                        if case .bool(let b) = Value(yaml: f.value) { required = b } else {
                            sink.error("secret '\(name)': 'required' must be true or false", at: f.value.mark)
                        }
                    case "description": description = f.value.scalarText
                    default:
                        sink.error("secret '\(name)': unknown key '\(k)'\(Suggest.hint(k, Self.secretKeys)) (known: \(Self.secretKeys.joined(separator: ", ")))", at: f.key.mark)
                    }
                }
                if refNode == nil {
                    sink.error("secret '\(name)' needs 'from: env:NAME' or 'from: file:PATH'", at: p.key.mark)
                    continue
                }
            }
            guard let refNode, let ref = refNode.scalarText else {
                sink.error("secret '\(name)' must be a reference such as env:HF_TOKEN or file:~/.cache/huggingface/token", at: p.value.mark)
                continue
            }
            let source: SecretSource
            if ref.hasPrefix("env:"), ref.count > 4, ref.dropFirst(4).wholeMatch(of: #/[A-Za-z_][A-Za-z0-9_]*/#) != nil {
                source = .env(String(ref.dropFirst(4)))
            } else if ref.hasPrefix("file:"), ref.count > 5 {
                source = .file(String(ref.dropFirst(5)))
            } else {
                sink.error("secret '\(name)' must be a reference such as env:HF_TOKEN or file:PATH, not a value (secret values never go in recipes)", at: refNode.mark)
                continue
            }
            out.append(
                SecretSpec(
                    name: name, source: source, required: required, description: description, mark: p.key.mark,
                    declaredIn: p.key.mark.file ?? file))
        }
        return out
    }

    // MARK: - steps

    private func parseSteps(_ node: YAMLNode, _ sink: inout DiagnosticSink) -> [StepSpec] {
        guard case .sequence(let items, _) = node else {
            sink.error(Self.shapeProblem("steps", node) ?? "", at: node.mark)
            return []
        }
        if items.isEmpty { sink.error("'steps' is empty: a recipe needs at least one step", at: node.mark) }
        var out: [StepSpec] = []
        var seen: [String: YAMLMark] = [:]
        for item in items {
            guard case .mapping(let fields, let mark) = item else {
                sink.error("a step must be a map with 'id' and 'uses', found \(item.kindDescription)", at: item.mark)
                continue
            }
            var id: String?
            var uses: String?
            var usesMark = mark
            var title: String?
            var inputs: [TemplateEntry] = []
            var withNode: YAMLNode?
            for f in fields {
                let k = f.key.scalarText ?? ""
                switch k {
                case "id":
                    if let s = f.value.scalarText, s.wholeMatch(of: #/[A-Za-z_][A-Za-z0-9_\-]*/#) != nil {
                        id = s
                        if let first = seen[s] {
                            let place = first.file == f.value.mark.file ? "line \(first.line)" : "\(first.file ?? ""):\(first.line)"
                            sink.error("duplicate step id '\(s)' (first used at \(place))", at: f.value.mark)
                        } else {
                            seen[s] = f.value.mark
                        }
                    } else {
                        sink.error("step id '\(f.value.scalarText ?? "")' must start with a letter and hold only letters, digits, '-' or '_'", at: f.value.mark)
                        id = ""
                    }
                case "uses":
                    uses = f.value.scalarText ?? ""
                    usesMark = f.value.mark
                case "name": title = f.value.scalarText
                case "with": withNode = f.value
                default:
                    sink.error("unknown step key '\(k)'\(Suggest.hint(k, Self.stepKeys)) (known: \(Self.stepKeys.joined(separator: ", ")))", at: f.key.mark)
                }
            }
            guard let id else {
                sink.error("step is missing 'id'", at: mark)
                continue
            }
            guard let uses else {
                sink.error("step '\(id)' is missing 'uses' (its step kind; `sous steps` lists them)", at: mark)
                continue
            }
            let schema = kinds[uses]
            if schema == nil {
                sink.error("unknown step kind '\(uses)'\(Suggest.hint(uses, kinds.keys.sorted())) (`sous steps` lists them)", at: usesMark)
            }
            if let withNode {
                if case .mapping = withNode {
                    var problems: [(String, YAMLMark)] = []
                    if case .map(let entries, _) = Template.from(withNode, problems: &problems) { inputs = entries }
                    for (m, mk) in problems { sink.error(m, at: mk) }
                } else {
                    sink.error("step '\(id)': 'with' must be a map of inputs, found \(withNode.kindDescription)", at: withNode.mark)
                }
            }
            let step = StepSpec(id: id, uses: uses, title: title, inputs: inputs, mark: mark, usesMark: usesMark)
            if let schema { checkInputs(step, schema, &sink) }
            out.append(step)
        }
        return out
    }

    private func checkInputs(_ step: StepSpec, _ schema: StepKindSchema, _ sink: inout DiagnosticSink) {
        let label = "step '\(step.id)' (\(schema.kind))"
        var suggested: Set<String> = []
        for e in step.inputs {
            guard let spec = schema.input(e.key) else {
                if let s = Suggest.closest(to: e.key, in: schema.inputs.map(\.name)) { suggested.insert(s) }
                sink.error("\(label): unknown input '\(e.key)'\(Suggest.hint(e.key, schema.inputs.map(\.name))) (inputs: \(schema.inputs.map(\.name).joined(separator: ", ")))", at: e.keyMark)
                continue
            }
            if let v = e.value.literalValue {
                if case .null = v, spec.required {
                    sink.error("\(label): input '\(e.key)' is required and cannot be null", at: e.value.mark)
                } else if !spec.type.accepts(v) {
                    sink.error("\(label): input '\(e.key)' must be \(spec.type.article), found \(describe(v))", at: e.value.mark)
                } else if let allowed = spec.allowed, let s = v.stringValue, !allowed.contains(s) {
                    sink.error("\(label): input '\(e.key)' must be one of \(allowed.joined(separator: ", ")); found '\(s)'\(Suggest.hint(s, allowed))", at: e.value.mark)
                }
            } else if case .interpolated = e.value, ![.string, .path, .any].contains(spec.type) {
                sink.error("\(label): input '\(e.key)' must be \(spec.type.article), but text with ${{ }} inside is a string", at: e.value.mark)
            } else if case .list = e.value, ![.list, .any].contains(spec.type) {
                sink.error("\(label): input '\(e.key)' must be \(spec.type.article), found a list", at: e.value.mark)
            } else if case .map = e.value, ![.map, .any].contains(spec.type) {
                sink.error("\(label): input '\(e.key)' must be \(spec.type.article), found a map", at: e.value.mark)
            }
            switch spec.role {
            case .value, .readPaths: break
            case .outputPath:
                for p in PathConfinement.problems(e.value) { sink.error("\(label): input '\(e.key)': \(p.message)", at: p.mark) }
            case .shellCommand:
                // Literal commands have nothing to pass; lists and maps are reported above.
                switch e.value {
                case .interpolated, .expression:
                    do { _ = try ShellCommand.rewrite(e.value) } catch {
                        for p in error.problems { sink.error("\(label): \(p.message)", at: p.mark) }
                    }
                default: break
                }
            }
        }
        for spec in schema.inputs where spec.required && spec.defaultValue == nil {
            if step.input(spec.name) == nil && !suggested.contains(spec.name) {
                sink.error("\(label): missing required input '\(spec.name)' (\(spec.type.rawValue): \(spec.description))", at: step.usesMark)
            }
        }
    }

    // MARK: - references

    private func checkReferences(_ recipe: Recipe, _ sink: inout DiagnosticSink) {
        let index = Dictionary(recipe.steps.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        var edges: [String: [String]] = [:]
        for (i, step) in recipe.steps.enumerated() {
            let schema = kinds[step.uses]
            for e in step.inputs {
                for (ref, mark) in e.value.references {
                    var refType: ValueType?
                    switch ref {
                    case .param(let n):
                        if let p = recipe.param(n) { refType = p.type } else {
                            sink.error("unknown param '\(n)'\(Suggest.hint(n, recipe.params.map(\.name)))\(recipe.params.isEmpty ? " (the recipe declares no params)" : "")", at: mark)
                        }
                    case .secret(let n):
                        refType = .string
                        if recipe.secret(n) == nil {
                            sink.error("unknown secret '\(n)'\(Suggest.hint(n, recipe.secrets.map(\.name)))\(recipe.secrets.isEmpty ? " (the recipe declares no secrets)" : "")", at: mark)
                        }
                    case .env: refType = .string
                    case .runID, .recipeName: refType = .string
                    case .workspace, .recipeDir: refType = .path
                    case .stepOutput(let s, let o):
                        guard let j = index[s] else {
                            sink.error("unknown step '\(s)' in steps.\(s).outputs.\(o)\(Suggest.hint(s, recipe.steps.map(\.id)))", at: mark)
                            continue
                        }
                        if j == i {
                            sink.error("step '\(step.id)' refers to its own outputs", at: mark)
                            continue
                        }
                        edges[step.id, default: []].append(s)
                        if j > i {
                            if let cycle = findCycle(from: s, to: step.id, recipe: recipe) {
                                sink.error("cycle between steps: \(([step.id] + cycle).joined(separator: " -> "))", at: mark)
                            } else {
                                sink.error("step '\(step.id)' uses outputs of step '\(s)', which runs later; move '\(s)' before '\(step.id)'", at: mark)
                            }
                            continue
                        }
                        if let other = kinds[recipe.steps[j].uses] {
                            if let out = other.output(o) { refType = out.type } else {
                                sink.error("step '\(s)' (\(other.kind)) has no output '\(o)'\(Suggest.hint(o, other.outputs.map(\.name))) (outputs: \(other.outputs.map(\.name).joined(separator: ", ")))", at: mark)
                            }
                        }
                    }
                    if let schema, let spec = schema.input(e.key), case .expression = e.value, let t = refType,
                        !spec.type.accepts(t)
                    {
                        sink.error("step '\(step.id)' (\(schema.kind)): input '\(e.key)' must be \(spec.type.article), but \(ref) is \(t.article)", at: mark)
                    }
                }
            }
        }
        _ = edges
    }

    /// A path of step references from `start` back to `target`, if one exists.
    private func findCycle(from start: String, to target: String, recipe: Recipe) -> [String]? {
        var stack: [(String, [String])] = [(start, [start])]
        var visited: Set<String> = []
        while let (node, path) = stack.popLast() {
            if node == target { return path }
            if !visited.insert(node).inserted { continue }
            for up in recipe.step(node)?.upstream ?? [] { stack.append((up, path + [up])) }
        }
        return nil
    }
}

/// "a string ('abc')", "an int (3)", "a list" …
func describe(_ v: Value) -> String {
    switch v {
    case .string(let s): "a string ('\(s.count > 40 ? String(s.prefix(40)) + "…" : s)')"
    case .int(let i): "an int (\(i))"
    case .number(let d): "a number (\(d))"
    case .bool(let b): "a bool (\(b))"
    case .null: "null"
    case .list: "a list"
    case .map: "a map"
    }
}
