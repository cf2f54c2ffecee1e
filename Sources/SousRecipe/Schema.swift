/// What a step kind does to the world; decides caching and teardown order.
public enum StepCategory: String, Sendable, Codable, CaseIterable {
    /// Output is a function of inputs; skipped when nothing changed.
    case pure
    /// Makes a resource that costs or persists; recorded in the ledger; skipped while it still exists.
    case create
    /// Never cached (invoke a model, print); its result is recorded.
    case effect
    /// Deletes; runs last, in reverse order; skipped with `--keep`.
    case teardown
}

/// What the loader and the engine must know about an input beyond its type: the one place a step
/// kind declares that an input is written to or run.
public enum InputRole: Sendable, Hashable {
    /// An ordinary value.
    case value
    /// A path the step writes (for a list input, every item is one): relative to the recipe's work
    /// folder (`WORKSPACE/<recipe>/work`) and confined to it. `sous validate` refuses a path written
    /// literally that leaves it (``PathConfinement``); the engine checks the resolved value on the
    /// real path (symbolic links followed) before the step runs.
    case outputPath
    /// A command line run by `/bin/sh -c`: every `${{ }}` in it reaches the shell as an environment
    /// variable, never as command text (``ShellCommand``); `${{ secrets.* }}` is refused there.
    case shellCommand
    /// A list of paths the step reads: like a `.path` input, each file or folder is part of the step's
    /// fingerprint by content.
    case readPaths
}

/// One input a step kind accepts.
public struct InputSpec: Sendable {
    public var name: String
    public var type: ValueType
    public var required: Bool
    public var defaultValue: Value?
    public var description: String
    /// Allowed string values, when the input is an enumeration.
    public var allowed: [String]?
    /// Whether the input is a path the step writes or a command it runs.
    public var role: InputRole

    public init(
        _ name: String, _ type: ValueType, required: Bool = false, default defaultValue: Value? = nil,
        allowed: [String]? = nil, role: InputRole = .value, _ description: String
    ) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.description = description
        self.allowed = allowed
        self.role = role
    }
}

/// One output a step kind produces.
public struct OutputSpec: Sendable {
    public var name: String
    public var type: ValueType
    public var description: String
    public init(_ name: String, _ type: ValueType, _ description: String) {
        self.name = name
        self.type = type
        self.description = description
    }
}

/// The documented interface of a step kind (`uses:`).
public struct StepKindSchema: Sendable {
    public var kind: String
    public var version: Int
    public var category: StepCategory
    public var summary: String
    public var inputs: [InputSpec]
    public var outputs: [OutputSpec]

    public init(
        kind: String, version: Int, category: StepCategory, summary: String, inputs: [InputSpec],
        outputs: [OutputSpec]
    ) {
        self.kind = kind
        self.version = version
        self.category = category
        self.summary = summary
        self.inputs = inputs
        self.outputs = outputs
    }

    public func input(_ name: String) -> InputSpec? { inputs.first { $0.name == name } }
    public func output(_ name: String) -> OutputSpec? { outputs.first { $0.name == name } }
}
