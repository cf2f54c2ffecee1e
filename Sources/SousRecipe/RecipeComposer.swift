import SousYAML

/// The top-level sections of a recipe file, or of a file merged over its bases, still as YAML.
/// Every node keeps the file it was written in (``YAMLMark/file``), so the checks that run on the
/// merged sections point into the right file.
struct RecipeLayer {
    var name: YAMLNode?
    var description: YAMLNode?
    var local: YAMLNode?
    var budget: YAMLNode?
    var params: YAMLNode?
    var secrets: YAMLNode?
    /// A list once `include:` items are spliced in and `after`/`before`/`remove` are applied.
    var steps: YAMLNode?
    /// Set when a file has a misspelling of `steps` (already reported as an unknown key).
    var misspeltSteps = false
    /// Set when a base or an included file could not be read (already reported), so that missing
    /// or empty steps are not reported on top.
    var incomplete = false

    /// The sections as one map, in the order recipe files write them (`name` left out: a file's
    /// name is its own).
    func node(mark: YAMLMark) -> YAMLNode {
        let sections: [(String, YAMLNode?)] = [
            ("description", description), ("local", local), ("budget", budget), ("params", params), ("secrets", secrets), ("steps", steps),
        ]
        return .mapping(
            sections.compactMap { key, value in
                value.map { YAMLPair(key: .scalar(key, style: .plain, tag: nil, mark: $0.mark), value: $0) }
            }, mark: mark)
    }
}

/// Reads a recipe file with the bases it `extends:` and the step files it `include:`s, and merges
/// them into one ``RecipeLayer`` (the README's "Sharing a base" states the rules).
struct RecipeComposer {
    /// Problems found so far, rendered against every file read.
    var sink: DiagnosticSink
    /// Every file read, the top recipe's first.
    private(set) var files: [RecipeFile]
    /// Remote files fetched so far (by ``RecipeLoader/load(reference:)``), or why not.
    let fetched: [RemoteRecipeReference: Result<FetchedRecipeFile, RemoteFetchError>]
    /// Whether remote references can be fetched at all (the loader has a fetcher).
    let remoteAllowed: Bool
    /// Remote files referenced but not in ``fetched``, in order: the loader fetches them and
    /// composes again (their absence is reported like an unreadable file meanwhile).
    private(set) var missing: [RemoteRecipeReference] = []

    static let stepPlacementKeys = ["after", "before", "remove"]

    init(
        file: RecipeFile, fetched: [RemoteRecipeReference: Result<FetchedRecipeFile, RemoteFetchError>] = [:],
        remoteAllowed: Bool = false
    ) {
        sink = DiagnosticSink(file: file.path, text: file.text)
        files = [file]
        self.fetched = fetched
        self.remoteAllowed = remoteAllowed
    }

    /// Which kind of reference led to a file, for messages.
    enum Link: String {
        case extends, include
    }

    // MARK: - reading files

    /// The sections of the recipe whose top-level map is `root`, merged over its bases.
    /// - Parameter chain: the files being read that led here (for cycles), ending with `source`.
    mutating func compose(_ root: [YAMLPair], from source: RecipeSource, chain: [RecipeSource]) -> RecipeLayer {
        var layer = RecipeLayer()
        var extends: YAMLNode?
        for p in root {
            guard let key = p.key.scalarText else {
                sink.error("keys must be plain strings", at: p.key.mark)
                continue
            }
            switch key {
            case "name": layer.name = p.value
            case "description": layer.description = p.value
            case "local": layer.local = p.value
            case "budget": layer.budget = p.value
            case "params": layer.params = p.value
            case "secrets": layer.secrets = p.value
            case "steps":
                if case .sequence(let items, let mark) = p.value {
                    let errors = sink.diagnostics.count
                    layer.steps = .sequence(spliceIncludes(items, from: source, chain: chain), mark: mark)
                    if sink.diagnostics.count > errors { layer.incomplete = true }
                } else {
                    layer.steps = p.value
                }
            case "extends": extends = p.value
            default:
                if Suggest.closest(to: key, in: RecipeLoader.topKeys) == "steps" { layer.misspeltSteps = true }
                sink.error("unknown key '\(key)'\(Suggest.hint(key, RecipeLoader.topKeys)) (known keys: \(RecipeLoader.topKeys.joined(separator: ", ")))", at: p.key.mark)
            }
        }
        let base = extends.flatMap { baseLayer($0, from: source, chain: chain) }
        if extends != nil, base == nil || base?.incomplete == true { layer.incomplete = true }
        return merge(base: base, child: layer)
    }

    /// The merged sections of the base recipe `reference` names, or nil after reporting why not.
    private mutating func baseLayer(_ reference: YAMLNode, from source: RecipeSource, chain: [RecipeSource]) -> RecipeLayer? {
        guard let (base, text) = open(reference, .extends, from: source, chain: chain) else { return nil }
        guard let root = parseYAML(text, of: base) else { return nil }
        guard let root else {
            sink.error("the base recipe \(base.path) is empty", at: reference.mark)
            return nil
        }
        guard case .mapping(let pairs, _) = root else {
            sink.error("a recipe must be a map with a 'steps' list", at: root.mark)
            return nil
        }
        return compose(pairs, from: base, chain: chain + [base])
    }

    /// `items` with every `- include: PATH` replaced by the steps of that file.
    private mutating func spliceIncludes(_ items: [YAMLNode], from source: RecipeSource, chain: [RecipeSource]) -> [YAMLNode] {
        var out: [YAMLNode] = []
        for item in items {
            guard case .mapping(let pairs, _) = item, let reference = item["include"] else {
                out.append(item)
                continue
            }
            if let extra = pairs.first(where: { $0.key.scalarText != "include" }) {
                sink.error("an include item holds only 'include: PATH', not '\(extra.key.scalarText ?? "")'", at: extra.key.mark)
                continue
            }
            guard let (file, text) = open(reference, .include, from: source, chain: chain) else { continue }
            guard let root = parseYAML(text, of: file) else { continue }
            let shape = "a file of steps must be a list of steps or a map with only a 'steps' list"
            switch root {
            case .sequence(let steps, _)?:
                out += spliceIncludes(steps, from: file, chain: chain + [file])
            case .mapping(let pairs, let mark)?:
                if let extra = pairs.first(where: { $0.key.scalarText != "steps" }) {
                    sink.error("\(shape); found '\(extra.key.scalarText ?? "")'", at: extra.key.mark)
                } else if case .sequence(let steps, _)? = pairs.first?.value {
                    out += spliceIncludes(steps, from: file, chain: chain + [file])
                } else {
                    sink.error(shape, at: pairs.first?.value.mark ?? mark)
                }
            case .scalar(_, _, _, let mark)?:
                sink.error("\(shape), found a scalar", at: mark)
            case nil:
                sink.error("the included file \(file.path) is empty", at: reference.mark)
            }
        }
        return out
    }

    /// Resolves and reads the file a reference names, reporting at the reference when it cannot.
    /// - Returns: the file and its text (added to ``files`` and the sink), or nil.
    private mutating func open(
        _ reference: YAMLNode, _ link: Link, from source: RecipeSource, chain: [RecipeSource]
    ) -> (RecipeSource, String)? {
        let what = link == .extends ? "base recipe" : "included steps"
        guard let written = reference.scalarText else {
            sink.error("'\(link.rawValue)' must be the path of a recipe file, found \(reference.kindDescription)", at: reference.mark)
            return nil
        }
        let file: RecipeSource
        do {
            file = try RecipeSource.resolve(reference: written, relativeTo: source, remoteAllowed: remoteAllowed)
        } catch {
            sink.error("'\(link.rawValue)': \(error)", at: reference.mark)
            return nil
        }
        if let start = chain.firstIndex(where: { $0.identity == file.identity }) {
            let loop = (chain[start...].map(\.path) + [file.path]).joined(separator: " -> ")
            sink.error("\(link.rawValue) cycle: \(loop)", at: reference.mark)
            return nil
        }
        let text: String
        var sha256: String?
        if let remote = file.remote {
            switch fetched[remote] {
            case nil:
                if !missing.contains(remote) { missing.append(remote) }
                sink.error("\(what) '\(written)' is not fetched yet", at: reference.mark)
                return nil
            case .failure(let error)?:
                sink.error("cannot fetch \(what) '\(written)': \(error)", at: reference.mark)
                return nil
            case .success(let got)?:
                if let pin = remote.sha256, pin != got.sha256 {
                    sink.error("\(what) \(remote.url): expected sha256 \(pin), got \(got.sha256)", at: reference.mark)
                    return nil
                }
                text = got.text
                sha256 = got.sha256
            }
        } else {
            do {
                text = try file.read()
            } catch {
                sink.error("cannot open \(what) '\(written)': \(error)", at: reference.mark)
                return nil
            }
        }
        if !files.contains(where: { $0.path == file.path }) {
            files.append(RecipeFile(path: file.path, text: text, sha256: sha256))
            sink.add(file: file.path, text: text)
        }
        return (file, text)
    }

    /// The YAML tree of a base or included file (`.some(nil)` when empty), or nil after a syntax error.
    private mutating func parseYAML(_ text: String, of file: RecipeSource) -> YAMLNode?? {
        do {
            return .some(try YAMLParser.parse(text, file: file.path))
        } catch {
            sink.error("YAML syntax error: \(error.message)", at: error.mark)
            return nil
        }
    }

    // MARK: - merging

    /// `child` merged over `base` (nil when the child extends nothing): the child wins.
    ///
    /// `name` is the child's only (a base's name is not inherited); `description`, `local` and `budget` are
    /// the child's when given; params merge by name and field by field; secrets by name; steps by
    /// id (see ``mergeSteps(base:child:hasBase:)``).
    mutating func merge(base: RecipeLayer?, child: RecipeLayer) -> RecipeLayer {
        var out = child
        out.description = child.description ?? base?.description
        out.local = child.local ?? base?.local
        out.budget = child.budget ?? base?.budget
        out.params = mergeSection("params", base?.params, child.params, Self.mergeParams)
        out.secrets = mergeSection("secrets", base?.secrets, child.secrets) { b, c in
            Self.mergePairs(b, c) { _, c in c }
        }
        var baseSteps: [YAMLNode] = []
        if case .sequence(let items, _)? = base?.steps {
            baseSteps = items
        } else if let steps = base?.steps, child.steps != nil, let problem = RecipeLoader.shapeProblem("steps", steps) {
            sink.error(problem, at: steps.mark)
        }
        if case .sequence(let items, let mark)? = child.steps {
            out.steps = .sequence(mergeSteps(base: baseSteps, child: items, hasBase: base != nil), mark: mark)
        } else if child.steps == nil {
            out.steps = base?.steps
        }
        return out
    }

    /// Combines one section of a base and a child; a section of the wrong shape is not merged
    /// (the child's is kept and checked later; a base's is reported here, as the child hides it).
    private mutating func mergeSection(
        _ key: String, _ base: YAMLNode?, _ child: YAMLNode?, _ combine: ([YAMLPair], [YAMLPair]) -> [YAMLPair]
    ) -> YAMLNode? {
        guard let base else { return child }
        guard let child else { return base }
        guard case .mapping(let b, _) = base else {
            if let problem = RecipeLoader.shapeProblem(key, base) { sink.error(problem, at: base.mark) }
            return child
        }
        guard case .mapping(let c, let mark) = child else { return child }
        return .mapping(combine(b, c), mark: mark)
    }

    /// The pairs of `base` with those of `child` merged in by key (`combine(base, child)` for a key
    /// in both, keeping the base's position); the child's new keys come after, in order.
    private static func mergePairs(_ base: [YAMLPair], _ child: [YAMLPair], _ combine: (YAMLPair, YAMLPair) -> YAMLPair) -> [YAMLPair] {
        var out = base
        for c in child {
            if let key = c.key.scalarText, let i = out.firstIndex(where: { $0.key.scalarText == key }) {
                out[i] = combine(out[i], c)
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// Params by name; a param in both keeps the base's fields the child does not give. A shorthand
    /// (`temperature: 0.9`) counts as `{default: 0.9}`. A child default for a param the base makes
    /// required (and the child does not) makes it optional.
    ///
    /// The merged param keeps the child's key (diagnostics about the param point at the child) and
    /// the base's value mark, so the value's ``YAMLMark/file`` is the file that first declared it
    /// (``ParamSpec/declaredIn``); each field keeps the mark of the file that wrote it.
    private static func mergeParams(_ base: [YAMLPair], _ child: [YAMLPair]) -> [YAMLPair] {
        mergePairs(base, child) { b, c in
            let childFields = paramFields(c.value)
            var fields = mergePairs(paramFields(b.value), childFields) { _, c in c }
            let given = Set(childFields.compactMap(\.key.scalarText))
            if given.contains("default"), !given.contains("required") {
                fields.removeAll { $0.key.scalarText == "required" }
            }
            return YAMLPair(key: c.key, value: .mapping(fields, mark: b.value.mark))
        }
    }

    /// The fields of a param spec, a shorthand default becoming a `default` field.
    private static func paramFields(_ node: YAMLNode) -> [YAMLPair] {
        if RecipeLoader.isParamSpec(node), case .mapping(let fields, _) = node { return fields }
        return [YAMLPair(key: .scalar("default", style: .plain, tag: nil, mark: node.mark), value: node)]
    }

    /// Steps by id. A child step with a base step's id is merged into it in place (or removed with
    /// `remove: true`); other child steps come after the base's, in order. `after: ID` or
    /// `before: ID` places a child step next to a step placed so far instead.
    /// - Parameter hasBase: whether the recipe extends a base (for the message of a stray `remove`).
    private mutating func mergeSteps(base: [YAMLNode], child: [YAMLNode], hasBase: Bool) -> [YAMLNode] {
        var out = base
        let baseIDs = Set(base.compactMap { $0["id"]?.scalarText })
        var merged: Set<String> = []
        for item in child {
            guard case .mapping(let pairs, let mark) = item else {
                out.append(item)
                continue
            }
            var rest: [YAMLPair] = []
            var placement: [String: YAMLPair] = [:]
            for p in pairs {
                if let k = p.key.scalarText, Self.stepPlacementKeys.contains(k) { placement[k] = p } else { rest.append(p) }
            }
            var step = YAMLNode.mapping(rest, mark: mark)
            let id = step["id"]?.scalarText
            let label = id.map { "step '\($0)'" } ?? "a step"
            var position = out.count
            if let id, baseIDs.contains(id), !merged.contains(id), let i = out.firstIndex(where: { $0["id"]?.scalarText == id }) {
                merged.insert(id)
                if let remove = placement["remove"], isTrue(remove, label) {
                    if let extra = rest.first(where: { $0.key.scalarText != "id" }) ?? placement["after"] ?? placement["before"] {
                        sink.error("\(label) is removed ('remove: true'); it takes no other keys", at: extra.key.mark)
                    }
                    out.remove(at: i)
                    continue
                }
                step = Self.mergeStep(out.remove(at: i), step)
                position = i
            } else if let remove = placement["remove"], isTrue(remove, label) {
                let why = hasBase
                    ? "the base recipe has no step '\(id ?? "")' to remove\(Suggest.hint(id ?? "", baseIDs.subtracting(merged)))"
                    : "'remove: true' drops a step of the base recipe, and this recipe has no 'extends'"
                sink.error("\(label): \(why)", at: remove.key.mark)
                continue
            }
            if let after = placement["after"], let before = placement["before"] {
                sink.error("\(label): give 'after' or 'before', not both", at: max(after.key.mark, before.key.mark))
            } else if let place = placement["after"] ?? placement["before"] {
                let key = place.key.scalarText ?? ""
                let target = place.value.scalarText ?? ""
                let ids = out.compactMap { $0["id"]?.scalarText }
                if let j = out.firstIndex(where: { $0["id"]?.scalarText == target }) {
                    position = key == "after" ? j + 1 : j
                } else {
                    let known = ids.isEmpty ? " (no steps come before it)" : " (steps so far: \(ids.joined(separator: ", ")))"
                    sink.error("\(label): unknown step '\(target)' in '\(key)'\(Suggest.hint(target, ids))\(known)", at: place.value.mark)
                }
            }
            out.insert(step, at: position)
        }
        return out
    }

    /// The value of a `remove:` pair, reporting a value that is not a bool.
    private mutating func isTrue(_ pair: YAMLPair, _ label: String) -> Bool {
        if case .bool(let b) = Value(yaml: pair.value) { return b }
        sink.error("\(label): 'remove' must be true or false", at: pair.value.mark)
        return false
    }

    /// A base step with a child's keys merged in: `with` deeply for maps, anything else replaced.
    private static func mergeStep(_ base: YAMLNode, _ child: YAMLNode) -> YAMLNode {
        guard case .mapping(let b, let mark) = base, case .mapping(let c, _) = child else { return child }
        let merged = mergePairs(b, c.filter { $0.key.scalarText != "id" }) { b, c in
            c.key.scalarText == "with" ? YAMLPair(key: c.key, value: deepMerge(b.value, c.value)) : c
        }
        return .mapping(merged, mark: mark)
    }

    /// Maps merged key by key, recursively; any other child value (a list, a scalar) replaces the base's.
    private static func deepMerge(_ base: YAMLNode, _ child: YAMLNode) -> YAMLNode {
        guard case .mapping(let b, _) = base, case .mapping(let c, let mark) = child else { return child }
        return .mapping(mergePairs(b, c) { b, c in YAMLPair(key: c.key, value: deepMerge(b.value, c.value)) }, mark: mark)
    }
}
