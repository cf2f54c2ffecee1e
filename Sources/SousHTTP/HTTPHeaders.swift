import Foundation

/// Ordered, case-insensitive header list.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible,
    CustomReflectable
{
    private var pairs: [(name: String, value: String)]

    public init() { pairs = [] }

    public init(_ pairs: [(String, String)]) {
        self.pairs = pairs.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The first value of `name` (case-insensitive), or nil.
    public subscript(name: String) -> String? {
        pairs.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// All values of `name` (case-insensitive), in insertion order.
    public func values(for name: String) -> [String] {
        pairs.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    /// Appends a header (keeps existing values of the same name).
    public mutating func add(_ name: String, _ value: String) {
        pairs.append((name: name, value: value))
    }

    /// Replaces all values of `name` with `value` (at the position of the first one, or appended).
    public mutating func set(_ name: String, _ value: String) {
        if let index = pairs.firstIndex(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) {
            pairs[index] = (name: name, value: value)
            var i = pairs.count - 1
            while i > index {
                if pairs[i].name.caseInsensitiveCompare(name) == .orderedSame { pairs.remove(at: i) }
                i -= 1
            }
        } else {
            pairs.append((name: name, value: value))
        }
    }

    /// Removes every value of `name`.
    public mutating func remove(_ name: String) {
        pairs.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// True when a header named `name` is present.
    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Number of header lines.
    public var count: Int { pairs.count }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        pairs.makeIterator()
    }

    /// Header names only: values are never printed (they may hold credentials).
    public var description: String { "HTTPHeaders(\(pairs.map(\.name).joined(separator: ", ")))" }

    /// `dump` and debugger views show header names only, never values.
    public var customMirror: Mirror { Mirror(self, children: ["names": pairs.map(\.name)]) }
}
