public import SousRecipe

/// A Swift type a step input or output holds, and how it converts from and to a recipe ``Value``.
///
/// `String`, `Int`, `Double`, `Bool`, `[Value]`, ``ValueMap``, ``Value`` and optionals of them conform.
public protocol StepValue: Sendable {
    /// The type the schema declares for it (what `sous steps` documents and `sous validate` checks).
    static var valueType: ValueType { get }
    /// What an input that is not given (or null) holds: nil, so the input is required, except for optionals.
    static var absent: Self? { get }
    /// `value` as this type; nil when it does not convert.
    init?(stepValue value: Value)
    /// This value as a recipe value.
    var stepValue: Value { get }
}

extension StepValue {
    public static var absent: Self? { nil }
}

extension String: StepValue {
    public static var valueType: ValueType { .string }
    /// Any value but null: a number or a bool reads as its text (`version: 0.28` is "0.28").
    public init?(stepValue value: Value) {
        if value == .null { return nil }
        self = value.stringValue ?? value.interpolationText
    }
    public var stepValue: Value { .string(self) }
}

extension Int: StepValue {
    public static var valueType: ValueType { .int }
    public init?(stepValue value: Value) {
        guard let i = value.intValue else { return nil }
        self = i
    }
    public var stepValue: Value { .int(self) }
}

extension Double: StepValue {
    public static var valueType: ValueType { .number }
    public init?(stepValue value: Value) {
        guard let d = value.doubleValue else { return nil }
        self = d
    }
    public var stepValue: Value { .number(self) }
}

extension Bool: StepValue {
    public static var valueType: ValueType { .bool }
    public init?(stepValue value: Value) {
        guard let b = value.boolValue else { return nil }
        self = b
    }
    public var stepValue: Value { .bool(self) }
}

extension Array: StepValue where Element == Value {
    public static var valueType: ValueType { .list }
    public init?(stepValue value: Value) {
        guard let l = value.listValue else { return nil }
        self = l
    }
    public var stepValue: Value { .list(self) }
}

extension ValueMap: StepValue {
    public static var valueType: ValueType { .map }
    public init?(stepValue value: Value) {
        guard let m = value.mapValue else { return nil }
        self = m
    }
    public var stepValue: Value { .map(self) }
}

extension Value: StepValue {
    public static var valueType: ValueType { .any }
    public init?(stepValue value: Value) { self = value }
    public var stepValue: Value { self }
}

extension Optional: StepValue where Wrapped: StepValue {
    public static var valueType: ValueType { Wrapped.valueType }
    public static var absent: Self? { .some(.none) }
    public init?(stepValue value: Value) {
        if value == .null {
            self = .none
            return
        }
        guard let w = Wrapped(stepValue: value) else { return nil }
        self = .some(w)
    }
    public var stepValue: Value { self?.stepValue ?? .null }
}

// MARK: - Declarations

/// The inputs of a step kind: a struct of ``Input`` properties (and ``InputGroup``s of inputs several kinds
/// share), decoded from the step's resolved values before ``StepKind/run(_:_:)``.
///
/// Each property is declared once: its name, in snake_case (`includeTopFolder` → `include_top_folder`), is
/// the input's name in recipes, its type and attributes are the schema `sous steps` documents and `sous
/// validate` checks, and the kind reads the value from it.
public protocol StepInputs: Decodable, Sendable {
    /// The declaration (every property holds its attributes, no value).
    init()
}

/// The outputs of a step kind: a struct of ``Output`` properties. A kind makes one with `init()`, sets
/// every output and returns it; the engine checks the result against the declaration.
public protocol StepOutputs: Codable, Sendable {
    init()
}

/// A kind without inputs.
public struct NoInputs: StepInputs {
    public init() {}
}

/// A kind without outputs.
public struct NoOutputs: StepOutputs {
    public init() {}
}

/// One input of a step kind, declared as a property of its ``StepInputs``:
///
/// ```swift
/// @Input(.path, "the folder to pack") var source: String
/// @Input(default: false, "keep the folder's name") var includeTopFolder: Bool
/// @Input("Content-Type of the objects") var contentType: String?
/// ```
///
/// An input is required unless its type is optional or it has a default; the type comes from the Swift type
/// (``StepValue/valueType``) unless given (`.path` for a string holding a path).
@propertyWrapper
public struct Input<V: StepValue>: Sendable {
    private enum State: Sendable {
        case declared(InputSpec)
        case resolved(V)
    }
    private let state: State

    /// - Parameters:
    ///   - defaultValue: the value when the step does not give it (written as the docs show it: `30`, not `30.0`).
    ///   - allowed: the only strings it may hold.
    ///   - role: whether it is a path the step writes, paths it reads, or a command it runs.
    ///   - description: the sentence `sous steps` shows.
    public init(default defaultValue: Value? = nil, allowed: [String]? = nil, role: InputRole = .value, _ description: String) {
        self.init(V.valueType, default: defaultValue, allowed: allowed, role: role, description)
    }

    /// An input whose declared type differs from the Swift type's: `.path` for a string that names a file or
    /// folder the step reads (part of its fingerprint by content).
    public init(
        _ type: ValueType, default defaultValue: Value? = nil, allowed: [String]? = nil, role: InputRole = .value, _ description: String
    ) {
        precondition(type.accepts(V.valueType), "an input of type \(type) cannot be read as \(V.self)")
        state = .declared(
            InputSpec(
                "", type, required: defaultValue == nil && V.absent == nil, default: defaultValue, allowed: allowed, role: role, description))
    }

    /// The resolved value (secrets in clear: never print or store it).
    public var wrappedValue: V {
        guard case .resolved(let v) = state else {
            preconditionFailure("inputs are read from the struct the engine hands to run(_:_:), not from a declaration")
        }
        return v
    }

    init(resolved: V) { state = .resolved(resolved) }

    var declaration: InputSpec? {
        if case .declared(let spec) = state { spec } else { nil }
    }
}

/// Inputs several kinds share (the SageMaker variant, waiting), declared once as their own ``StepInputs``
/// and included in a kind's inputs as if written there (like argument-parser's `@OptionGroup`).
@propertyWrapper
public struct InputGroup<G: StepInputs>: Sendable {
    public var wrappedValue: G
    public init() { wrappedValue = G() }
    init(resolved: G) { wrappedValue = resolved }
}

/// One output of a step kind, declared as a property of its ``StepOutputs``:
///
/// ```swift
/// @Output(.path, "absolute path of the archive") var path: String
/// @Output("size in bytes") var size: Int
/// ```
@propertyWrapper
public struct Output<V: StepValue>: Sendable {
    private let declaration: OutputSpec?
    private var value: V?

    /// - Parameter description: the sentence `sous steps` shows.
    public init(_ description: String) { self.init(V.valueType, description) }

    /// An output whose declared type differs from the Swift type's (`.path`: the engine then notices when the
    /// file is changed or gone).
    public init(_ type: ValueType, _ description: String) {
        precondition(type.accepts(V.valueType), "an output of type \(type) cannot hold \(V.self)")
        declaration = OutputSpec("", type, description)
    }

    init(resolved: V) {
        declaration = nil
        value = resolved
    }

    public var wrappedValue: V {
        get {
            guard let value else { preconditionFailure("an output is read before it was set") }
            return value
        }
        set { value = newValue }
    }

    var spec: OutputSpec? { declaration }
    var isSet: Bool { value != nil }
    var current: Value? { value?.stepValue }
}

// MARK: - Reflection: the schema from the declaration

/// The recipe name of a property: `includeTopFolder` → `include_top_folder` (the wrapper's storage
/// `_includeTopFolder` too).
enum StepValueNames {
    static func recipeName(_ property: String) -> String {
        var out = ""
        for c in property.drop(while: { $0 == "_" }) {
            if c.isUppercase {
                if !out.isEmpty { out += "_" }
                out += c.lowercased()
            } else {
                out.append(c)
            }
        }
        return out
    }
}

protocol InputDeclaring {
    func declarations(name: String) -> [InputSpec]
}

extension Input: InputDeclaring {
    func declarations(name: String) -> [InputSpec] {
        guard var spec = declaration else { return [] }
        spec.name = name
        return [spec]
    }
}

extension InputGroup: InputDeclaring {
    func declarations(name: String) -> [InputSpec] { G.declarations }
}

extension StepInputs {
    /// The inputs in declaration order (groups spliced in where they are declared).
    static var declarations: [InputSpec] {
        Mirror(reflecting: Self()).children.flatMap { child -> [InputSpec] in
            guard let label = child.label, let d = child.value as? any InputDeclaring else { return [] }
            return d.declarations(name: StepValueNames.recipeName(label))
        }
    }

    /// `values` (resolved, defaults filled in) as this struct.
    /// - Throws: ``StepError`` naming the first input that is missing or of the wrong type.
    init(values: ValueMap) throws {
        try self.init(from: StepValuesDecoder(values: values, name: nil))
    }
}

protocol OutputDeclaring {
    var spec: OutputSpec? { get }
}

extension Output: OutputDeclaring {}

extension StepOutputs {
    /// The outputs in declaration order.
    static var declarations: [OutputSpec] {
        Mirror(reflecting: Self()).children.compactMap { child -> OutputSpec? in
            guard let label = child.label, var spec = (child.value as? any OutputDeclaring)?.spec else { return nil }
            spec.name = StepValueNames.recipeName(label)
            return spec
        }
    }

    /// Recorded outputs as this struct.
    init(values: ValueMap) throws {
        try self.init(from: StepValuesDecoder(values: values, name: nil))
    }

    /// The outputs as values: the ones set, under their recipe names (what the engine checks and records).
    func values() throws -> ValueMap {
        let encoder = StepValuesEncoder(collected: StepValuesEncoder.Collected(), name: nil)
        try encode(to: encoder)
        return encoder.collected.values
    }
}

// MARK: - Decoding and encoding

extension Input: Decodable {
    public init(from decoder: any Decoder) throws {
        let (name, value) = try StepValuesDecoder.slot(decoder)
        if value == nil || value == .null {
            guard let absent = V.absent else { throw StepError("input '\(name)' is missing") }
            self.init(resolved: absent)
        } else if let value, let v = V(stepValue: value) {
            self.init(resolved: v)
        } else {
            throw StepError("input '\(name)' must be \(V.valueType.article), got \(value?.type.rawValue ?? "nothing")")
        }
    }
}

extension InputGroup: Decodable {
    public init(from decoder: any Decoder) throws {
        guard let d = decoder as? StepValuesDecoder else { throw StepValuesDecoder.unsupported }
        self.init(resolved: try G(from: StepValuesDecoder(values: d.values, name: nil)))
    }
}

extension Output: Codable {
    public init(from decoder: any Decoder) throws {
        let (name, value) = try StepValuesDecoder.slot(decoder)
        guard let value else { throw StepError("output '\(name)' is missing") }
        guard let v = V(stepValue: value) ?? (value == .null ? V.absent : nil) else {
            throw StepError("output '\(name)' must be \(V.valueType.article), got \(value.type.rawValue)")
        }
        self.init(resolved: v)
    }

    public func encode(to encoder: any Encoder) throws {
        guard let e = encoder as? StepValuesEncoder, let name = e.name else { throw StepValuesDecoder.unsupported }
        if let current { e.collected.values[name] = current }
    }
}

/// Decodes a ``StepInputs`` or ``StepOutputs`` struct from a step's values: every property finds its value
/// under its recipe name.
struct StepValuesDecoder: Decoder {
    let values: ValueMap
    /// The recipe name of the property being decoded; nil for the whole struct.
    let name: String?
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static let unsupported = StepError("step inputs and outputs are declared with @Input, @InputGroup and @Output only")

    /// The name and value (nil when absent) a property wrapper being decoded stands for.
    static func slot(_ decoder: any Decoder) throws -> (String, Value?) {
        guard let d = decoder as? StepValuesDecoder, let name = d.name else { throw unsupported }
        return (name, d.values[name])
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed<Key>(values: values))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw Self.unsupported }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { throw Self.unsupported }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let values: ValueMap
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { values.keys.compactMap { Key(stringValue: $0) } }
        func contains(_ key: Key) -> Bool { true }
        func decodeNil(forKey key: Key) throws -> Bool { (values[StepValueNames.recipeName(key.stringValue)] ?? .null) == .null }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try T(from: StepValuesDecoder(values: values, name: StepValueNames.recipeName(key.stringValue)))
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            throw StepValuesDecoder.unsupported
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw StepValuesDecoder.unsupported }
        func superDecoder() throws -> any Decoder { throw StepValuesDecoder.unsupported }
        func superDecoder(forKey key: Key) throws -> any Decoder { throw StepValuesDecoder.unsupported }
    }
}

/// Encodes a ``StepOutputs`` struct into values: every set property under its recipe name. A hand-written
/// `encode(to:)` may put plain values (strings, numbers, ``Value``s) under any key; the engine's check then
/// tells what does not match the declaration.
struct StepValuesEncoder: Encoder {
    final class Collected {
        var values = ValueMap()
    }
    let collected: Collected
    let name: String?
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Keyed<Key>(collected: collected))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { fatalError("step outputs are not a list") }
    func singleValueContainer() -> any SingleValueEncodingContainer { Single(collected: collected, name: name ?? "") }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let collected: Collected
        var codingPath: [any CodingKey] { [] }
        func encodeNil(forKey key: Key) throws { collected.values[StepValueNames.recipeName(key.stringValue)] = .null }
        func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            let name = StepValueNames.recipeName(key.stringValue)
            if let v = value as? any StepValue {
                collected.values[name] = v.stepValue
            } else {
                try value.encode(to: StepValuesEncoder(collected: collected, name: name))
            }
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            fatalError("step outputs are flat")
        }
        func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { fatalError("step outputs are flat") }
        func superEncoder() -> any Encoder { StepValuesEncoder(collected: collected, name: nil) }
        func superEncoder(forKey key: Key) -> any Encoder { StepValuesEncoder(collected: collected, name: nil) }
    }

    struct Single: SingleValueEncodingContainer {
        let collected: Collected
        let name: String
        var codingPath: [any CodingKey] { [] }
        func encodeNil() throws { collected.values[name] = .null }
        func encode<T: Encodable>(_ value: T) throws {
            guard let v = value as? any StepValue else { throw StepValuesDecoder.unsupported }
            collected.values[name] = v.stepValue
        }
    }
}
