import Foundation
public import SousRecipe

/// A step kind: what `uses:` names in a recipe.
public protocol StepKind: Sendable {
    /// The documented interface (inputs, outputs, category, version).
    var schema: StepKindSchema { get }
    /// The category of one step instance; defaults to the schema's (`shell` decides per step).
    func category(for inputs: ValueMap) -> StepCategory
    /// Does the work and returns the outputs.
    func run(_ ctx: StepContext) async throws -> ValueMap
    /// Whether recorded outputs still hold (path outputs are checked by the engine before this).
    func validate(outputs: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck
    /// Deletes a resource this kind created (for `sous destroy`).
    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws
    /// Extra lines `sous plan` shows under the step (a shell command, a resource name).
    func planDetails(inputs: ValueMap) -> [String]
    /// Inputs of type list whose strings are paths to fingerprint by content (like `.path` inputs).
    var pathListInputs: [String] { get }
}

extension StepKind {
    public func category(for inputs: ValueMap) -> StepCategory { schema.category }
    public func validate(outputs: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck { .valid }
    public func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws {}
    public func planDetails(inputs: ValueMap) -> [String] { [] }
    public var pathListInputs: [String] { [] }
}

/// The verdict on recorded outputs.
public enum OutputCheck: Sendable, Equatable {
    case valid
    case invalid(String)
}

/// A failure inside a step, with the sentence a user reads.
public struct StepError: Error, Sendable, CustomStringConvertible {
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
