import Foundation
import SousBasics

/// A typed value: what params, step inputs and step outputs hold.
public indirect enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case list([Value])
    case map(ValueMap)

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var intValue: Int? {
        switch self {
        case .int(let i): i
        case .number(let d) where d == d.rounded() && abs(d) < 1e15: Int(d)
        default: nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var listValue: [Value]? { if case .list(let l) = self { l } else { nil } }
    public var mapValue: ValueMap? { if case .map(let m) = self { m } else { nil } }

    /// The type this value has.
    public var type: ValueType {
        switch self {
        case .null: .any
        case .bool: .bool
        case .int: .int
        case .number: .number
        case .string: .string
        case .list: .list
        case .map: .map
        }
    }

    /// Text used when the value is interpolated into a string.
    public var interpolationText: String {
        switch self {
        case .null: ""
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .number(let d): Value.formatNumber(d)
        case .string(let s): s
        case .list, .map: jsonString()
        }
    }

    static func formatNumber(_ d: Double) -> String {
        if d.isFinite && d == d.rounded() && abs(d) < 1e15 { return String(Int(d)) + ".0" }
        return String(d)
    }

    /// JSON text; `sorted` gives a canonical form (for fingerprints).
    public func jsonString(sorted: Bool = false, pretty: Bool = false, indent: String = "") -> String {
        var out = ""
        writeJSON(into: &out, sorted: sorted, pretty: pretty, indent: indent)
        return out
    }

    private func writeJSON(into out: inout String, sorted: Bool, pretty: Bool, indent: String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let d): out += d.isFinite ? String(d) : "null"
        case .string(let s): JSONText.appendQuoted(s, to: &out)
        case .list(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            let inner = indent + "  "
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + inner }
                item.writeJSON(into: &out, sorted: sorted, pretty: pretty, indent: inner)
            }
            if pretty { out += "\n" + indent }
            out += "]"
        case .map(let m):
            if m.isEmpty { out += "{}"; return }
            out += "{"
            let inner = indent + "  "
            let entries = sorted ? m.entries.sorted { $0.key < $1.key } : m.entries
            for (i, e) in entries.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + inner }
                JSONText.appendQuoted(e.key, to: &out)
                out += pretty ? ": " : ":"
                e.value.writeJSON(into: &out, sorted: sorted, pretty: pretty, indent: inner)
            }
            if pretty { out += "\n" + indent }
            out += "}"
        }
    }
}

/// An ordered string-keyed map.
public struct ValueMap: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Key = String
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: SousRecipe.Value
        public init(key: String, value: SousRecipe.Value) {
            self.key = key
            self.value = value
        }
    }
    public private(set) var entries: [Entry] = []

    public init() {}
    public init(_ entries: [(String, SousRecipe.Value)]) { for (k, v) in entries { self[k] = v } }
    public init(dictionaryLiteral elements: (String, SousRecipe.Value)...) { self.init(elements) }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }
    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> SousRecipe.Value? {
        get { entries.first { $0.key == key }?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}

extension Value: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let l = try? c.decode([Value].self) { self = .list(l) }
        else {
            let d = try c.decode([String: Value].self)
            self = .map(ValueMap(d.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .list(let l): try c.encode(l)
        case .map(let m):
            var d: [String: Value] = [:]
            for e in m { d[e.key] = e.value }
            try c.encode(d)
        }
    }
}

/// The declared type of a param, input or output.
public enum ValueType: String, Sendable, Hashable, CaseIterable, Codable {
    case string, int, number, bool, list, map, any
    /// A filesystem path (a string); files and folders named by path inputs are part of a step's fingerprint.
    case path

    /// Whether a value of type `other` may be used where `self` is expected.
    public func accepts(_ other: ValueType) -> Bool {
        if self == .any || other == .any || self == other { return true }
        switch (self, other) {
        case (.number, .int), (.path, .string), (.string, .path): return true
        default: return false
        }
    }

    /// Whether `value` conforms.
    public func accepts(_ value: Value) -> Bool {
        if case .null = value { return true }
        return accepts(value.type)
    }

    /// "a string", "an int", …
    public var article: String {
        switch self {
        case .int, .any: "an \(rawValue)"
        default: "a \(rawValue)"
        }
    }
}

extension ValueMap: Codable {
    struct JSONKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        self.init()
        for k in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            self[k.stringValue] = try c.decode(SousRecipe.Value.self, forKey: k)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        for e in entries { try c.encode(e.value, forKey: JSONKey(stringValue: e.key)) }
    }
}

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
}
