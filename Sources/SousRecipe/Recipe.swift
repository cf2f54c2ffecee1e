public import SousYAML

/// A declared recipe parameter.
public struct ParamSpec: Sendable {
    public var name: String
    public var type: ValueType
    public var defaultValue: Value?
    public var required: Bool
    public var description: String?
    public var mark: YAMLMark
    /// The file that first declared the param: the deepest base holding it, or the recipe's own file.
    public var declaredIn: String
    /// The file whose `default` applies (a child may override a base's), nil without a default.
    public var defaultIn: String?
}

/// Where a secret's value comes from at run time. Values are never stored.
public enum SecretSource: Sendable, Hashable, CustomStringConvertible {
    case env(String)
    case file(String)
    public var description: String {
        switch self {
        case .env(let n): "env:\(n)"
        case .file(let p): "file:\(p)"
        }
    }
}

/// A declared secret reference.
public struct SecretSpec: Sendable {
    public var name: String
    public var source: SecretSource
    public var required: Bool
    public var description: String?
    public var mark: YAMLMark
    /// The file whose entry for the secret applies (a child's replaces a base's).
    public var declaredIn: String
}

/// A recipe's `budget:`: the most its run may leave running, checked before anything is created.
public struct RecipeBudget: Sendable, Equatable {
    /// `max_hourly_cost`: USD per hour of the endpoints the run's selected steps would keep running.
    public var maxHourlyCost: Double
    /// Where `max_hourly_cost` is written (for messages: `recipes/x.yaml:5:20`).
    public var mark: YAMLMark

    public init(maxHourlyCost: Double, mark: YAMLMark) {
        self.maxHourlyCost = maxHourlyCost
        self.mark = mark
    }

    /// `file:line:col` of `max_hourly_cost` (`recipe` when the mark names no file).
    public func position(recipe: String) -> String { "\(mark.file ?? recipe):\(mark.line):\(mark.column)" }
}

/// One step of a recipe.
public struct StepSpec: Sendable {
    public var id: String
    public var uses: String
    public var title: String?
    public var inputs: [TemplateEntry]
    public var mark: YAMLMark
    public var usesMark: YAMLMark

    /// The template given for input `name`.
    public func input(_ name: String) -> Template? { inputs.first { $0.key == name }?.value }

    /// Steps this one references, in order of first reference.
    public var upstream: [String] {
        var seen: [String] = []
        for e in inputs {
            for (r, _) in e.value.references {
                if case .stepOutput(let s, _) = r, !seen.contains(s) { seen.append(s) }
            }
        }
        return seen
    }
}

/// A loaded and validated recipe: the file named on the command line merged over the bases it
/// `extends:`, with `include:`d steps spliced in.
public struct Recipe: Sendable {
    /// The path it was loaded from, as given; for a recipe fetched from the web, its URL (without
    /// the `#sha256=` pin).
    public var path: String
    /// The absolute folder of the recipe file (`${{ recipe.dir }}`); for a recipe fetched from the
    /// web, the URL of its folder (`https://host/recipes`), never a folder on this machine.
    public var directory: String
    public var name: String
    public var description: String?
    /// `local: true` runs it on the local cloud by default.
    public var local: Bool
    /// `budget:`, the child's or its base's (a child's replaces a base's whole).
    public var budget: RecipeBudget? = nil
    public var params: [ParamSpec]
    public var secrets: [SecretSpec]
    public var steps: [StepSpec]
    /// Every file the recipe was read from, the recipe's own file first, then its bases and
    /// included files in the order they were read (for rendering diagnostics found later, and for
    /// anything that must cover the whole recipe text).
    public var sources: [RecipeFile]

    /// True when any file of the recipe (itself, a base, an included file) was fetched from a URL
    /// rather than read from this machine's disk: such a recipe is someone else's code, and sous asks
    /// before it runs commands or creates billable resources.
    public var isRemote: Bool { sources.contains { $0.path.contains("://") } }

    /// The text of the recipe's own file (bases and included files are in ``sources``).
    public var source: String { sources.first?.text ?? "" }

    public func step(_ id: String) -> StepSpec? { steps.first { $0.id == id } }
    public func stepIndex(_ id: String) -> Int? { steps.firstIndex { $0.id == id } }
    public func param(_ name: String) -> ParamSpec? { params.first { $0.name == name } }
    public func secret(_ name: String) -> SecretSpec? { secrets.first { $0.name == name } }

    /// Renders a diagnostic at `mark`, in whichever of the recipe's files the mark is in.
    public func diagnostic(_ message: String, at mark: YAMLMark) -> Diagnostic {
        var sink = DiagnosticSink(files: sources, defaultFile: path)
        sink.error(message, at: mark)
        return sink.diagnostics[0]
    }
}
