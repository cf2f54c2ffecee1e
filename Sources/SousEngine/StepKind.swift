import Foundation
public import SousRecipe
import Synchronization

/// What a step kind is, apart from its inputs and outputs (`sous steps` shows it).
public struct StepKindConfiguration: Sendable {
    /// What `uses:` names, e.g. `archive.tar`.
    public var name: String
    /// Bumped when the kind's behaviour changes, so cached results run again.
    public var version: Int
    public var category: StepCategory
    /// One sentence: what the kind does.
    public var summary: String

    public init(name: String, version: Int, category: StepCategory, summary: String) {
        self.name = name
        self.version = version
        self.category = category
        self.summary = summary
    }
}

/// A step kind: what `uses:` names in a recipe.
///
/// Its inputs and outputs are declared once, as the properties of its ``Inputs`` and ``Outputs`` structs
/// (``Input``, ``InputGroup``, ``Output``); the schema, the recipe checks and the documentation come from
/// them, and `run` reads and sets them.
public protocol StepKind: Sendable {
    associatedtype Inputs: StepInputs
    associatedtype Outputs: StepOutputs
    /// The kind's name, version, category and summary.
    static var configuration: StepKindConfiguration { get }
    /// Does the work and returns the outputs (every declared one set).
    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs
    /// The category of one step; defaults to the configuration's (`shell` decides per step).
    func category(for inputs: Inputs) -> StepCategory
    /// Whether recorded outputs still hold (path outputs are checked by the engine before this).
    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck
    /// Deletes a resource this kind created (for `sous destroy`).
    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws
    /// Extra lines `sous plan` shows under the step (a shell command, a resource name), from the inputs as
    /// shown (secrets as `***`).
    func planDetails(_ inputs: Inputs) -> [String]
    /// For a kind with a command input (``InputRole/shellCommand``), which `sous run` shows and asks about
    /// before it runs: more lines of that question, from the inputs as shown, such as the environment. Part
    /// of what an approval covers.
    func confirmationDetails(_ inputs: Inputs) -> [String]
}

extension StepKind {
    public func category(for inputs: Inputs) -> StepCategory { Self.configuration.category }
    public func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck { .valid }
    public func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws {}
    public func planDetails(_ inputs: Inputs) -> [String] { [] }
    public func confirmationDetails(_ inputs: Inputs) -> [String] { [] }
}

/// Schemas worked out once per kind (they are reflected from the declarations).
private let schemaCache = Mutex<[ObjectIdentifier: StepKindSchema]>([:])

// What the engine calls: the same operations on resolved values.
extension StepKind {
    /// The documented interface, from the configuration and the declarations.
    public var schema: StepKindSchema {
        if let s = schemaCache.withLock({ $0[ObjectIdentifier(Self.self)] }) { return s }
        let c = Self.configuration
        let s = StepKindSchema(
            kind: c.name, version: c.version, category: c.category, summary: c.summary, inputs: Inputs.declarations,
            outputs: Outputs.declarations)
        schemaCache.withLock { $0[ObjectIdentifier(Self.self)] = s }
        return s
    }

    /// Runs the step on its resolved inputs (`ctx.inputs`) and gives its outputs as values.
    func execute(_ ctx: StepContext) async throws -> ValueMap {
        try await run(try Inputs(values: ctx.inputs), ctx).values()
    }

    func category(values: ValueMap) -> StepCategory {
        guard let inputs = try? Inputs(values: values) else { return Self.configuration.category }
        return category(for: inputs)
    }

    func validate(recorded: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck {
        let outputs: Outputs, given: Inputs
        do { outputs = try Outputs(values: recorded) } catch { return .invalid("the recorded outputs do not fit this kind (\(error))") }
        do { given = try Inputs(values: inputs) } catch { return .invalid("\(error)") }
        return await validate(outputs, inputs: given, ctx: ctx)
    }

    func planDetails(values: ValueMap) -> [String] {
        (try? Inputs(values: values)).map(planDetails) ?? []
    }

    func confirmationDetails(values: ValueMap) -> [String] {
        (try? Inputs(values: values)).map(confirmationDetails) ?? []
    }
}

/// The verdict on recorded outputs.
public enum OutputCheck: Sendable, Equatable {
    case valid
    case invalid(String)
}

/// A failure inside a step, with the sentence a user reads.
public struct StepError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The registry of step kinds.
public struct StepRegistry: Sendable {
    public private(set) var kinds: [String: any StepKind] = [:]
    public init(_ kinds: [any StepKind] = []) { for k in kinds { register(k) } }
    public mutating func register(_ kind: any StepKind) { kinds[kind.schema.kind] = kind }
    public var schemas: [String: StepKindSchema] { kinds.mapValues(\.schema) }
    public subscript(name: String) -> (any StepKind)? { kinds[name] }
}
