import Foundation
import SousCrypto
import SousRecipe

/// The approvals `sous run` remembers, in `WORKSPACE/.sous/trusted-commands`: one key per line,
/// `shell <hex>` for a command, `create <hex>` for a resource a remote recipe creates. Each key is an
/// HMAC (under the workspace's secret-hashing key) of what was approved — the recipe's content hash, the
/// step, and the command as the shell sees it with its values (or the create's resolved inputs) — so the
/// file reveals nothing about the values and an approval covers exactly that.
///
/// Lines are appended with one `write(2)` on an `O_APPEND` descriptor, so concurrent runs in one
/// workspace never interleave or lose a line; a line sous does not recognise is ignored (a key that no
/// longer matches simply asks again).
struct TrustStore {
    let path: String
    private(set) var keys: Set<String>

    init(path: String) {
        self.path = path
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        keys = Set(text.split(separator: "\n").map(String.init))
    }

    func contains(_ key: String) -> Bool { keys.contains(key) }

    /// Remembers `key`.
    /// - Throws: ``WorkspaceError`` when the file cannot be written.
    mutating func add(_ key: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WorkspaceError("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let line = Array((key + "\n").utf8)
        let n = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == line.count else { throw WorkspaceError("cannot write \(path): \(String(cString: strerror(errno)))") }
        keys.insert(key)
    }
}

/// A question `sous run` asks before a step runs.
struct ApprovalRequest {
    /// The line remembered in the approvals file once it is answered yes.
    var key: String
    /// What the user reads, ending with the question (the CLI adds `[y/N]`).
    var prompt: String
    /// The error when it is not answered yes.
    var refusal: String
}

/// How sous shows text from a recipe or a value in a question, so that what is read is what runs.
enum TrustPrompt {
    /// `s` in double quotes, with quotes, backslashes, control characters and invisible formatting
    /// characters (bidirectional overrides, zero-width spaces) escaped: a value cannot hide a part of
    /// itself, or move the cursor, on the terminal.
    static func visible(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out += escaped(u) ?? String(u)
            }
        }
        return out + "\""
    }

    /// One line of recipe text with control and formatting characters escaped (tabs kept).
    static func sanitized(_ line: String) -> String {
        var out = ""
        for u in line.unicodeScalars {
            if u == "\t" { out += "\t" } else { out += escaped(u) ?? String(u) }
        }
        return out
    }

    static func escaped(_ u: Unicode.Scalar) -> String? {
        let invisible = u.value < 0x20 || (0x7f...0x9f).contains(u.value) || u.properties.generalCategory == .format
            || u.properties.generalCategory == .lineSeparator || u.properties.generalCategory == .paragraphSeparator
        return invisible ? "\\u{\(String(u.value, radix: 16))}" : nil
    }
}

extension Engine {
    /// A digest of the recipe's text: SHA-256 over the path and text of every file it was read from (the
    /// recipe, its bases, its included files). Local paths count as absolute paths, so running the same
    /// file from another folder is the same recipe.
    func recipeHash(_ recipe: Recipe) -> String {
        var h = SHA256Hasher()
        for f in recipe.sources {
            let path = f.path.contains("://") || f.path.hasPrefix("/") ? f.path : FileManager.default.currentDirectoryPath + "/" + f.path
            h.update(Data((path as NSString).standardizingPath.utf8))
            h.update(Data([0]))
            h.update(Data(f.text.utf8))
            h.update(Data([0]))
        }
        return h.finalize().hexString
    }

    /// The question to ask before `step` runs, or nil when it needs none: a step that runs commands (its kind
    /// has an input of role ``InputRole/shellCommand``) always, and, for a recipe fetched from a URL, a step that creates a
    /// resource (category `create`: uploads, the default bucket, models, endpoint configs, endpoints).
    func approvalRequest(
        _ step: StepSpec, kind: any StepKind, prepared: Prepared, recipe: Recipe, recipeHash: String, key: [UInt8], redactor: Redactor
    ) -> ApprovalRequest? {
        let origin = recipe.isRemote ? "\(recipe.path), fetched from a URL" : recipe.path
        let head = "step '\(step.id)' of recipe \(recipe.name) (\(origin))"
        func keyed(_ type: String, _ parts: [String]) -> String {
            let material = ([type, recipeHash, step.id] + parts).joined(separator: "\u{0}")
            return type + " " + Digest.hmacSHA256(key: key, data: Data(material.utf8)).hexString
        }
        if let commandInput = kind.schema.inputs.first(where: { $0.role == .shellCommand }) {
            let command = prepared.displayInputs[commandInput.name]?.stringValue ?? ""
            var lines: [String] = []
            for (i, line) in command.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                lines.append((i == 0 ? "  $ " : "    ") + TrustPrompt.sanitized(redactor.redact(String(line))))
            }
            for v in prepared.commandVariables {
                lines.append("  where \(v.name) = \(TrustPrompt.visible(redactor.redact(v.shown)))   ← ${{ \(v.reference) }}")
            }
            let details = kind.confirmationDetails(values: prepared.displayInputs)
            lines += details.map { "  " + TrustPrompt.sanitized(redactor.redact($0)) }
            // The run id changes every run and is sous's own: an approval covers any.
            let values = prepared.commandVariables.map { $0.name + "=" + ($0.reference == .runID ? "${{ run.id }}" : $0.value) }
            let body = "\(head) runs on this machine:\n" + lines.joined(separator: "\n")
            return ApprovalRequest(
                key: keyed("shell", [command] + values + details), prompt: body + "\nRun it?",
                refusal: body + "\nnot confirmed: review the command, then rerun with --yes to allow it (or answer y on a terminal)")
        }
        if recipe.isRemote && prepared.category == .create {
            var lines = kind.planDetails(values: prepared.displayInputs).map { "  " + $0 }
            for e in step.inputs {
                guard let v = prepared.displayInputs[e.key] else { continue }
                var text = v.stringValue ?? v.jsonString()
                if text.count > 160 { text = String(text.prefix(157)) + "…" }
                lines.append("  \(e.key): \(text)")
            }
            lines = lines.map { TrustPrompt.sanitized(redactor.redact($0)) }
            if lines.isEmpty { lines = ["  (no inputs: \(step.uses)'s defaults)"] }
            let inputs = Digest.sha256(Data(Value.map(prepared.fingerprintInputs).jsonString(sorted: true).utf8)).hexString
            let body = "\(head) creates a resource with \(step.uses) (billed to the AWS account it runs against):\n" + lines.joined(separator: "\n")
            return ApprovalRequest(
                key: keyed("create", [step.uses, inputs]), prompt: body + "\nCreate it?",
                refusal: body + "\nnot confirmed: this recipe comes from a URL; review what it creates, then rerun with --yes to allow it (or answer y on a terminal)")
        }
        return nil
    }
}
