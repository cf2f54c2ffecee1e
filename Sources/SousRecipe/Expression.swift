import Foundation
public import SousYAML

/// What a `${{ … }}` expression names.
public enum Reference: Sendable, Hashable, CustomStringConvertible {
    case param(String)
    case secret(String)
    case env(String)
    case stepOutput(step: String, output: String)
    case runID
    case workspace
    case recipeName
    /// `recipe.dir`: the absolute folder of the recipe file named on the command line.
    case recipeDir

    public var description: String {
        switch self {
        case .param(let n): "params.\(n)"
        case .secret(let n): "secrets.\(n)"
        case .env(let n): "env.\(n)"
        case .stepOutput(let s, let o): "steps.\(s).outputs.\(o)"
        case .runID: "run.id"
        case .workspace: "workspace"
        case .recipeName: "recipe.name"
        case .recipeDir: "recipe.dir"
        }
    }

    /// Parses the text between `${{` and `}}`.
    static func parse(_ raw: String) -> Result<Reference, ExpressionProblem> {
        let text = raw.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return .failure(.init("empty expression '${{ }}'")) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let ident = #/^[A-Za-z_][A-Za-z0-9_\-]*$/#
        for p in parts where p.wholeMatch(of: ident) == nil {
            return .failure(.init("invalid expression '\(text)': expected a dotted name such as params.model_id"))
        }
        let roots = ["params", "secrets", "env", "steps", "run", "workspace", "recipe"]
        switch parts[0] {
        case "params" where parts.count == 2: return .success(.param(parts[1]))
        case "secrets" where parts.count == 2: return .success(.secret(parts[1]))
        case "env" where parts.count == 2: return .success(.env(parts[1]))
        case "steps" where parts.count == 4 && parts[2] == "outputs":
            return .success(.stepOutput(step: parts[1], output: parts[3]))
        case "steps":
            return .failure(.init("invalid expression '\(text)': step outputs are written steps.<id>.outputs.<name>"))
        case "run" where parts == ["run", "id"]: return .success(.runID)
        case "workspace" where parts.count == 1: return .success(.workspace)
        case "recipe" where parts == ["recipe", "name"]: return .success(.recipeName)
        case "recipe" where parts == ["recipe", "dir"]: return .success(.recipeDir)
        case "params", "secrets", "env":
            return .failure(.init("invalid expression '\(text)': expected \(parts[0]).<name>"))
        case "run", "recipe", "workspace":
            return .failure(.init("invalid expression '\(text)': known forms are run.id, recipe.name, recipe.dir and workspace"))
        default:
            return .failure(.init("unknown expression root '\(parts[0])'\(Suggest.hint(parts[0], roots)) (known: \(roots.joined(separator: ", ")))"))
        }
    }
}

struct ExpressionProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// One piece of an interpolated string.
public enum TemplatePart: Sendable, Hashable {
    case text(String)
    /// A reference, with the column (in the source line) where its `${{` starts.
    case reference(Reference, column: Int)
}

/// An input value as written in the recipe, before expressions are resolved.
public indirect enum Template: Sendable, Hashable {
    /// A literal with no expressions.
    case literal(Value, mark: YAMLMark)
    /// A string with text around one or more expressions (always a string).
    case interpolated([TemplatePart], mark: YAMLMark)
    /// Exactly one expression: keeps the referenced value's type.
    case expression(Reference, mark: YAMLMark)
    case list([Template], mark: YAMLMark)
    case map([TemplateEntry], mark: YAMLMark)

    public var mark: YAMLMark {
        switch self {
        case .literal(_, let m), .interpolated(_, let m), .expression(_, let m), .list(_, let m), .map(_, let m): m
        }
    }

    /// Every reference inside, in order, with the mark of the node holding it.
    public var references: [(Reference, YAMLMark)] {
        switch self {
        case .literal: []
        case .expression(let r, let m): [(r, m)]
        case .interpolated(let parts, let m):
            parts.compactMap { if case .reference(let r, let col) = $0 { (r, m.at(column: col)) } else { nil } }
        case .list(let items, _): items.flatMap(\.references)
        case .map(let entries, _): entries.flatMap(\.value.references)
        }
    }

    /// The literal value when the template holds no expressions.
    public var literalValue: Value? {
        switch self {
        case .literal(let v, _): return v
        case .interpolated, .expression: return nil
        case .list(let items, _):
            var out: [Value] = []
            for i in items {
                guard let v = i.literalValue else { return nil }
                out.append(v)
            }
            return .list(out)
        case .map(let entries, _):
            var m = ValueMap()
            for e in entries {
                guard let v = e.value.literalValue else { return nil }
                m[e.key] = v
            }
            return .map(m)
        }
    }

    /// Resolves every expression with `lookup`.
    public func resolve(_ lookup: (Reference) throws -> Value) rethrows -> Value {
        switch self {
        case .literal(let v, _): return v
        case .expression(let r, _): return try lookup(r)
        case .interpolated(let parts, _):
            var s = ""
            for p in parts {
                switch p {
                case .text(let t): s += t
                case .reference(let r, _): s += try lookup(r).interpolationText
                }
            }
            return .string(s)
        case .list(let items, _): return .list(try items.map { try $0.resolve(lookup) })
        case .map(let entries, _):
            var m = ValueMap()
            for e in entries { m[e.key] = try e.value.resolve(lookup) }
            return .map(m)
        }
    }
}

/// A key/value of a map template.
public struct TemplateEntry: Sendable, Hashable {
    public var key: String
    public var keyMark: YAMLMark
    public var value: Template
    public init(key: String, keyMark: YAMLMark, value: Template) {
        self.key = key
        self.keyMark = keyMark
        self.value = value
    }
}

extension Template {
    /// Builds a template from a YAML node; a problem is reported with the column of the expression.
    static func from(_ node: YAMLNode, problems: inout [(String, YAMLMark)]) -> Template {
        switch node {
        case .scalar(let text, let style, let tag, let mark):
            if text.contains("${{") || text.contains("}}") && text.contains("${{") {
                return parseInterpolation(text, mark: mark, quoted: style != .plain, problems: &problems)
            }
            return .literal(scalarValue(text, style: style, tag: tag), mark: mark)
        case .sequence(let items, let mark):
            return .list(items.map { from($0, problems: &problems) }, mark: mark)
        case .mapping(let pairs, let mark):
            var entries: [TemplateEntry] = []
            for p in pairs {
                guard let k = p.key.scalarText else {
                    problems.append(("map keys must be plain strings", p.key.mark))
                    continue
                }
                entries.append(TemplateEntry(key: k, keyMark: p.key.mark, value: from(p.value, problems: &problems)))
            }
            return .map(entries, mark: mark)
        }
    }

    static func parseInterpolation(
        _ text: String, mark: YAMLMark, quoted: Bool, problems: inout [(String, YAMLMark)]
    ) -> Template {
        var parts: [TemplatePart] = []
        var rest = Substring(text)
        var offset = 0  // characters consumed, for the column of a problem
        let col0 = mark.column + (quoted ? 1 : 0)
        while let open = rest.range(of: "${{") {
            let before = rest[rest.startIndex..<open.lowerBound]
            if !before.isEmpty { parts.append(.text(String(before))) }
            let exprCol = col0 + offset + before.count
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                problems.append(("unterminated expression: '${{' without a closing '}}'", mark.at(column: exprCol)))
                return .literal(.string(text), mark: mark)
            }
            let inner = String(rest[open.upperBound..<close.lowerBound])
            switch Reference.parse(inner) {
            case .success(let r): parts.append(.reference(r, column: exprCol))
            case .failure(let p): problems.append((p.message, mark.at(column: exprCol)))
            }
            offset += rest.distance(from: rest.startIndex, to: close.upperBound)
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        if parts.count == 1, case .reference(let r, _) = parts[0] { return .expression(r, mark: mark) }
        return .interpolated(parts, mark: mark)
    }

    /// Interprets a scalar with YAML 1.2 core-schema rules (quoted scalars are strings).
    public static func scalarValue(_ text: String, style: YAMLScalarStyle, tag: String?) -> Value {
        if let tag {
            switch tag {
            case "tag:yaml.org,2002:str", "!!str": return .string(text)
            case "tag:yaml.org,2002:int", "!!int": if let i = Int(text) { return .int(i) }
            case "tag:yaml.org,2002:float", "!!float": if let d = Double(text) { return .number(d) }
            default: break
            }
        }
        guard style == .plain else { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if text.wholeMatch(of: #/[-+]?[0-9]+/#) != nil, let i = Int(text) { return .int(i) }
        if text.wholeMatch(of: #/0x[0-9a-fA-F]+/#) != nil, let i = Int(text.dropFirst(2), radix: 16) { return .int(i) }
        if text.wholeMatch(of: #/[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?/#) != nil, let d = Double(text) {
            return .number(d)
        }
        switch text {
        case ".inf", ".Inf", "+.inf": return .number(.infinity)
        case "-.inf", "-.Inf": return .number(-.infinity)
        case ".nan", ".NaN": return .number(.nan)
        default: return .string(text)
        }
    }
}

extension Value {
    /// Converts a YAML node holding no expressions to a value.
    public init(yaml node: YAMLNode) {
        switch node {
        case .scalar(let t, let s, let tag, _): self = Template.scalarValue(t, style: s, tag: tag)
        case .sequence(let items, _): self = .list(items.map(Value.init(yaml:)))
        case .mapping(let pairs, _):
            self = .map(ValueMap(pairs.map { ($0.key.scalarText ?? "", Value(yaml: $0.value)) }))
        }
    }
}

extension Value {
    /// A YAML node that reads back as this value with ``init(yaml:)``: a string that would read as
    /// another type (`"8"`, `"true"`, `""`) is double-quoted, a multi-line one is a literal block.
    public var yamlNode: YAMLNode {
        let mark = YAMLMark(line: 1, column: 1)
        switch self {
        case .null: return .scalar("null", style: .plain, tag: nil, mark: mark)
        case .bool(let b): return .scalar(b ? "true" : "false", style: .plain, tag: nil, mark: mark)
        case .int(let i): return .scalar(String(i), style: .plain, tag: nil, mark: mark)
        case .number(let d):
            let text = d.isNaN ? ".nan" : d.isInfinite ? (d > 0 ? ".inf" : "-.inf") : Value.formatNumber(d)
            return .scalar(text, style: .plain, tag: nil, mark: mark)
        case .string(let s):
            if s.contains("\n") { return .scalar(s, style: .literal, tag: nil, mark: mark) }
            let plain = Template.scalarValue(s, style: .plain, tag: nil) == self && !s.hasPrefix(" ") && !s.hasSuffix(" ")
            return .scalar(s, style: plain ? .plain : .doubleQuoted, tag: nil, mark: mark)
        case .list(let items): return .sequence(items.map(\.yamlNode), mark: mark)
        case .map(let m):
            return .mapping(m.entries.map { YAMLPair(key: Value.string($0.key).yamlNode, value: $0.value.yamlNode) }, mark: mark)
        }
    }
}
