/// A position in a YAML document (1-based line and column), and the file it is in when the
/// parser was told (``YAMLParser/parse(_:file:)``).
public struct YAMLMark: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    /// The file (as the caller named it) these positions are in, or nil when not given.
    public var file: String?
    public init(line: Int, column: Int, file: String? = nil) {
        self.line = line
        self.column = column
        self.file = file
    }
    /// The same file and line at another column.
    public func at(column: Int) -> YAMLMark { YAMLMark(line: line, column: column, file: file) }
    /// Orders by file, then line, then column.
    public static func < (a: YAMLMark, b: YAMLMark) -> Bool {
        (a.file ?? "", a.line, a.column) < (b.file ?? "", b.line, b.column)
    }
    public var description: String { "\(line):\(column)" }
}

/// How a scalar was written; quoted scalars are always strings.
public enum YAMLScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// A YAML node tree that keeps the position of every node.
public indirect enum YAMLNode: Sendable, Hashable {
    case scalar(String, style: YAMLScalarStyle, tag: String?, mark: YAMLMark)
    case sequence([YAMLNode], mark: YAMLMark)
    case mapping([YAMLPair], mark: YAMLMark)

    /// Where the node starts.
    public var mark: YAMLMark {
        switch self {
        case .scalar(_, _, _, let m), .sequence(_, let m), .mapping(_, let m): m
        }
    }

    /// A short noun for error messages ("a string", "a list", "a map").
    public var kindDescription: String {
        switch self {
        case .scalar: "a scalar"
        case .sequence: "a list"
        case .mapping: "a map"
        }
    }

    /// The scalar's text, when this is a scalar.
    public var scalarText: String? {
        if case .scalar(let s, _, _, _) = self { return s }
        return nil
    }

    /// The value for `key`, when this is a mapping with a scalar key `key`.
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs, _) = self else { return nil }
        return pairs.first { $0.key.scalarText == key }?.value
    }
}

/// One key/value pair of a mapping, in document order.
public struct YAMLPair: Sendable, Hashable {
    public var key: YAMLNode
    public var value: YAMLNode
    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// A YAML syntax error with its position.
public struct YAMLError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var mark: YAMLMark
    public init(message: String, mark: YAMLMark) {
        self.message = message
        self.mark = mark
    }
    public var description: String { "\(mark): \(message)" }
}
