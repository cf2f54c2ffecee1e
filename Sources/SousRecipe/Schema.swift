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

/// One input a step kind accepts.
public struct InputSpec: Sendable {
    public var name: String
    public var type: ValueType
    public var required: Bool
    public var defaultValue: Value?
    public var description: String
    /// Allowed string values, when the input is an enumeration.
    public var allowed: [String]?

    public init(
        _ name: String, _ type: ValueType, required: Bool = false, default defaultValue: Value? = nil,
        allowed: [String]? = nil, _ description: String
    ) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.description = description
        self.allowed = allowed
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
