import Foundation
import SousYAML

/// A param override that does not fit the recipe.
public struct ParamError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Recipe {
    /// Resolves every param: `-p` overrides win over the params file, which wins over defaults.
    /// - Parameters:
    ///   - overrides: raw `key=value` texts from the command line, parsed by each param's type.
    ///   - fileValues: values from `--params FILE.yaml`.
    /// - Throws: ``RecipeError`` for a required param not given (pointing at its declaration) and
    ///   ``ParamError`` for unknown names or values of the wrong type.
    public func resolveParams(overrides: [(String, String)], fileValues: ValueMap = ValueMap()) throws -> ValueMap {
        var out = ValueMap()
        for p in params {
            guard let d = p.defaultValue else { continue }
            if let text = d.stringValue { out[p.name] = .string(ParamDefault.expand(text, recipe: self)) } else { out[p.name] = d }
        }
        for e in fileValues {
            guard let spec = param(e.key) else {
                throw ParamError("--params: unknown param '\(e.key)'\(Suggest.hint(e.key, params.map(\.name)))\(paramList)")
            }
            guard spec.type.accepts(e.value) else {
                throw ParamError("--params: param '\(e.key)' must be \(spec.type.article), found \(describe(e.value))")
            }
            out[e.key] = e.value
        }
        for (k, raw) in overrides {
            guard let spec = param(k) else {
                throw ParamError("-p \(k): unknown param '\(k)'\(Suggest.hint(k, params.map(\.name)))\(paramList)")
            }
            out[k] = try Self.parseOverride(raw, as: spec.type, name: k)
        }
        var missing: [Diagnostic] = []
        for p in params where p.required && out[p.name] == nil {
            missing.append(diagnostic("required param '\(p.name)' was not given (pass -p \(p.name)=VALUE or --params FILE.yaml)", at: p.mark))
        }
        if !missing.isEmpty { throw RecipeError(missing) }
        return out
    }

    private var paramList: String {
        params.isEmpty ? " (the recipe declares no params)" : " (params: \(params.map(\.name).joined(separator: ", ")))"
    }

    static func parseOverride(_ raw: String, as type: ValueType, name: String) throws -> Value {
        let bad = ParamError("-p \(name)=\(raw): expected \(type.article)")
        switch type {
        case .string, .path: return .string(raw)
        case .int:
            guard let i = Int(raw) else { throw bad }
            return .int(i)
        case .number:
            guard let d = Double(raw) else { throw bad }
            return Int(raw).map(Value.int) ?? .number(d)
        case .bool:
            switch raw.lowercased() {
            case "true", "yes", "1": return .bool(true)
            case "false", "no", "0": return .bool(false)
            default: throw bad
            }
        case .list, .map, .any:
            let node: YAMLNode?
            do { node = try YAMLParser.parse(raw) } catch {
                throw ParamError("-p \(name)=\(raw): not valid YAML (\(error.message))")
            }
            let v = node.map(Value.init(yaml:)) ?? .null
            guard type.accepts(v) else { throw bad }
            return v
        }
    }

    /// Reads a `--params FILE.yaml` map.
    public static func loadParamsFile(_ path: String) throws -> ValueMap {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ParamError("--params \(path): cannot read the file")
        }
        let node: YAMLNode?
        do { node = try YAMLParser.parse(text) } catch {
            throw ParamError("\(path):\(error.mark.line):\(error.mark.column): error: YAML syntax error: \(error.message)")
        }
        guard let node else { return ValueMap() }
        guard case .map(let m) = Value(yaml: node) else {
            throw ParamError("\(path): a params file must be a map of name: value")
        }
        return m
    }
}

/// A param's default may name the recipe's own folder (`${{ recipe.dir }}/models/x`) or name; nothing
/// else, because defaults are known before anything runs.
enum ParamDefault {
    static var pattern: Regex<(Substring, Substring)> { #/\$\{\{\s*(.*?)\s*\}\}/# }

    /// The first expression in `text` that a default may not use.
    static func unsupportedExpression(in text: String) -> String? {
        for m in text.matches(of: pattern) where !["recipe.dir", "recipe.name"].contains(String(m.output.1)) {
            return String(m.output.0)
        }
        return nil
    }

    /// `text` with `${{ recipe.dir }}` and `${{ recipe.name }}` replaced.
    static func expand(_ text: String, recipe: Recipe) -> String {
        guard text.contains("${{") else { return text }
        return text.replacing(pattern) { m in
            switch m.output.1 {
            case "recipe.dir": recipe.directory
            case "recipe.name": recipe.name
            default: String(m.output.0)
            }
        }
    }
}
