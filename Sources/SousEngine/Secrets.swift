import Foundation
import SousRecipe

/// Resolves secret references at run time; values live only in memory.
struct SecretStore {
    let recipe: Recipe
    let environment: [String: String]
    private(set) var values: [String: String] = [:]
    private(set) var redactor = Redactor()

    init(recipe: Recipe, environment: [String: String]) {
        self.recipe = recipe
        self.environment = environment
        // Learn every available secret up front so output is redacted even before a step uses it, and the
        // values of the environment variables the steps use whose names say they hold secrets.
        for s in recipe.secrets { if let v = try? read(s) { values[s.name] = v; redactor.add(v) } }
        for step in recipe.steps {
            for e in step.inputs {
                for (ref, _) in e.value.references {
                    if case .env(let n) = ref, SecretNames.isSecret(n), let v = environment[n], !v.isEmpty { redactor.add(v) }
                }
            }
        }
    }

    func read(_ s: SecretSpec) throws -> String? {
        switch s.source {
        case .env(let n): return environment[n].flatMap { $0.isEmpty ? nil : $0 }
        case .file(let p):
            let path = p.hasPrefix("~/") ? (environment["HOME"] ?? NSHomeDirectory()) + String(p.dropFirst(1)) : p
            guard let d = FileManager.default.contents(atPath: path), var text = String(data: d, encoding: .utf8) else { return nil }
            while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            return text.isEmpty ? nil : text
        }
    }

    /// The secret's value; nil when it is optional (`required: false`) and not set.
    mutating func optionalValue(_ name: String) throws -> String? {
        if let v = values[name] { return v }
        if let spec = recipe.secret(name), !spec.required, try read(spec) == nil { return nil }
        return try value(name)
    }

    mutating func value(_ name: String) throws -> String {
        if let v = values[name] { return v }
        guard let spec = recipe.secret(name) else { throw StepError("unknown secret '\(name)'") }
        guard let v = try read(spec) else {
            let how: String
            switch spec.source {
            case .env(let n): how = "set the environment variable \(n)"
            case .file(let p): how = "put it in the file \(p)"
            }
            throw StepError("secret '\(name)' is not available: \(how)")
        }
        values[name] = v
        redactor.add(v)
        return v
    }
}

/// How an absent optional secret leaves a value out: the reference resolves to a marker, and `prune`
/// drops every map entry and list item that holds it (a whole input that holds it is left out).
enum AbsentValue {
    static let marker = "\u{0}sous:absent-optional-secret\u{0}"

    /// `v` without the entries that hold the marker, or nil when `v` itself holds it; `notes` gets the
    /// dotted path of each dropped part.
    static func prune(_ v: Value, path: String, notes: inout [String]) -> Value? {
        switch v {
        case .string(let s) where s.contains(marker):
            notes.append("input '\(path)'")
            return nil
        case .list(let items):
            var out: [Value] = []
            for (i, item) in items.enumerated() {
                if let kept = prune(item, path: "\(path)[\(i)]", notes: &notes) { out.append(kept) }
            }
            return .list(out)
        case .map(let m):
            var out = ValueMap()
            for e in m {
                if let kept = prune(e.value, path: "\(path).\(e.key)", notes: &notes) { out[e.key] = kept }
            }
            return .map(out)
        default:
            return v
        }
    }
}

/// Environment variables whose names say they hold a secret: `${{ env.NAME }}` of one is masked, fingerprinted
/// and redacted like a `${{ secrets.x }}`.
enum SecretNames {
    /// Words that mark a secret anywhere in a name (`HF_TOKEN`, `GITHUBTOKEN`, `DB_PASSWORD`, `CLIENT_SECRET`).
    static let markers = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "PRIVATE_KEY", "AWS_SESSION"]
    /// Words that mark a secret as a whole part of a name (`API_KEY`, `MY_APIKEY`, `AUTH`), not inside
    /// another word (`KEYBOARD`, `MONKEY`).
    static let parts: Set<String> = ["KEY", "APIKEY", "ACCESSKEY", "AUTH", "PASS"]

    static func isSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        if markers.contains(where: upper.contains) { return true }
        return upper.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).contains { parts.contains(String($0)) }
    }
}
