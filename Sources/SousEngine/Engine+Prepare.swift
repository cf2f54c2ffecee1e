import Foundation
import SousBasics
import SousRecipe
import SousCrypto
import Synchronization

/// What a reference to a secret resolves to, for each use of a step's inputs.
enum SecretForm {
    /// The value itself: what the step gets.
    case clear
    /// `«secret:NAME:keyed-hash»`: what the fingerprint and the state keep (a changed secret reruns the
    /// step, and the state reveals nothing about it).
    case fingerprint
    /// `***`: what plans, records and questions show.
    case masked
}

/// A step's inputs resolved three ways (for the step, for the fingerprint, for display) and its fingerprint.
struct Prepared {
    var inputs: ValueMap
    var fingerprintInputs: ValueMap
    var displayInputs: ValueMap
    var pathDigests: [String: PathDigest]
    var fingerprint: String
    var category: StepCategory
    /// Path inputs whose contents are hashed after the step ran (see `deferHashing` of `prepare`), with
    /// their stat signatures from before it ran.
    var deferred: [(slot: String, path: String, stat: FileSignature)] = []
    var kind: String = ""
    var version: Int = 0
    /// What `plan` should mention about the inputs (e.g. an input left out for an absent optional secret).
    var notes: [String] = []
    /// The values of the expressions in a shell-command input, passed to the shell as environment
    /// variables (``ShellCommand``); the input itself holds the rewritten command text.
    var commandVariables: [CommandVariable] = []

    /// The fingerprint over the inputs and the content digests of the path inputs.
    static func fingerprint(kind: String, version: Int, inputs: ValueMap, digests: [String: PathDigest]) -> String {
        var fpDoc = ValueMap()
        fpDoc["kind"] = .string(kind)
        fpDoc["version"] = .int(version)
        fpDoc["inputs"] = .map(inputs)
        fpDoc["paths"] = .map(ValueMap(digests.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value.contentSHA256)) }))
        return Digest.sha256(Data(Value.map(fpDoc).jsonString(sorted: true).utf8)).hexString
    }

    /// Hashes the deferred path inputs now that the step has run and completes the fingerprint. A path
    /// whose stat signature changed while the step ran (or that cannot be read) gets a digest that matches
    /// nothing, so the next run runs the step again instead of trusting content the step may not have seen.
    mutating func finishDeferred(_ digest: (String, Bool) throws -> String) {
        guard !deferred.isEmpty else { return }
        for d in deferred {
            let now = FileSignature.capture(d.path)
            let content: String
            if let now, now.sameStat(as: d.stat), let h = try? digest(d.path, d.stat.isDirectory) {
                content = h
            } else {
                content = "not hashed: changed or unreadable when the step ended"
            }
            pathDigests[d.slot] = PathDigest(path: d.path, stat: d.stat, contentSHA256: content)
        }
        deferred = []
        fingerprint = Self.fingerprint(kind: kind, version: version, inputs: fingerprintInputs, digests: pathDigests)
    }
}

extension StepWalk {
    /// Resolves a step's inputs: expressions, secrets (``SecretForm``), defaults; checks their types and the paths
    /// the step writes; stats path inputs and hashes those that changed since the last success (or, with
    /// `deferHashing`, after the step ran).
    mutating func prepare(_ step: StepSpec, kind: any StepKind, record: StepRecord?, deferHashing: Bool) throws -> Prepared {
        let (recipe, params, options, outputs, layout, runID, key) = (recipe, params, options, outputs, layout, runID, key)
        var real = ValueMap(), fp = ValueMap(), shown = ValueMap()
        var secretValues: [String: String] = [:]
        var absentSecrets: Set<String> = []
        for e in step.inputs {
            for (ref, _) in e.value.references {
                guard case .secret(let n) = ref, secretValues[n] == nil, !absentSecrets.contains(n) else { continue }
                if let v = try secrets.optionalValue(n) { secretValues[n] = v } else { absentSecrets.insert(n) }
            }
        }
        var absentNotes: [String] = []
        var commandVariables: [CommandVariable] = []
        for spec in kind.schema.inputs {
            guard let t = step.input(spec.name) else {
                if let d = spec.defaultValue {
                    real[spec.name] = d
                    fp[spec.name] = d
                    shown[spec.name] = d
                }
                continue
            }
            // A command line gets its expressions as environment variables, never as text.
            var command: ShellCommand?
            if spec.role == .shellCommand {
                do { command = try ShellCommand.rewrite(t) } catch {
                    throw RecipeError(error.problems.map { recipe.diagnostic("step '\(step.id)': \($0.message)", at: $0.mark) })
                }
            }
            func lookup(_ form: SecretForm) -> (Reference) throws -> Value {
                { ref in
                    switch ref {
                    case .param(let n): return params[n] ?? .null
                    case .secret(let n):
                        if absentSecrets.contains(n) { return .string(AbsentValue.marker) }
                        let v = secretValues[n] ?? ""
                        switch form {
                        case .clear: return .string(v)
                        case .fingerprint: return .string("«secret:\(n):\(Digest.hmacSHA256(key: key, data: Data(v.utf8)).hexString.prefix(16))»")
                        case .masked: return .string("***")
                        }
                    case .env(let n):
                        guard let v = options.environment[n] else {
                            throw RecipeError([recipe.diagnostic("environment variable \(n) is not set (used by step '\(step.id)')", at: t.mark)])
                        }
                        // A variable whose name says it holds a secret is treated like one.
                        guard SecretNames.isSecret(n) else { return .string(v) }
                        switch form {
                        case .clear: return .string(v)
                        case .fingerprint: return .string("«env:\(n):\(Digest.hmacSHA256(key: key, data: Data(v.utf8)).hexString.prefix(16))»")
                        case .masked: return .string("***")
                        }
                    case .stepOutput(let s, let o):
                        guard let outs = outputs[s] else {
                            throw StepError("step '\(step.id)' needs the outputs of step '\(s)', which has not run in this workspace; run the recipe (or --from \(s)) first")
                        }
                        guard let v = outs[o] else {
                            throw StepError("step '\(s)' recorded no output '\(o)'; rerun it with --step \(s)")
                        }
                        return v
                    case .runID: return .string(runID)
                    case .workspace: return .string(layout.workDir)
                    case .recipeName: return .string(recipe.name)
                    case .recipeDir: return .string(recipe.directory)
                    }
                }
            }
            let resolved = try t.resolve(lookup(.clear))
            guard let value = AbsentValue.prune(resolved, path: spec.name, notes: &absentNotes) else {
                // An optional secret that is not set leaves the input out: the kind's default applies.
                if let d = spec.defaultValue {
                    real[spec.name] = d
                    fp[spec.name] = d
                    shown[spec.name] = d
                }
                continue
            }
            var ignored: [String] = []
            real[spec.name] = value
            fp[spec.name] = AbsentValue.prune(try t.resolve(lookup(.fingerprint)), path: spec.name, notes: &ignored)
            shown[spec.name] = AbsentValue.prune(try t.resolve(lookup(.masked)), path: spec.name, notes: &ignored)
            if let command {
                // The fingerprint keeps the command with its values pasted (a changed value reruns the step
                // and reads well in "input 'command' changed"); what runs is the rewritten text.
                real[spec.name] = .string(command.text)
                shown[spec.name] = .string(command.text)
                for v in command.variables {
                    let text = try lookup(.clear)(v.reference).interpolationText
                    guard !text.unicodeScalars.contains("\u{0}") else {
                        throw StepError("step '\(step.id)': the value of ${{ \(v.reference) }} holds a NUL character, which cannot be passed to a command")
                    }
                    commandVariables.append(CommandVariable(
                        name: v.name, reference: v.reference, value: text, shown: try lookup(.masked)(v.reference).interpolationText))
                }
            }
        }
        // Values with ${{ }} are checked against the schema once resolved.
        for spec in kind.schema.inputs {
            if let v = real[spec.name], !spec.type.accepts(v) {
                throw StepError("step '\(step.id)': input '\(spec.name)' must be \(spec.type.article), got \(v.type.rawValue) after resolving expressions")
            }
            if let allowed = spec.allowed, let s = real[spec.name]?.stringValue, !allowed.contains(s) {
                throw StepError("step '\(step.id)': input '\(spec.name)' must be one of \(allowed.joined(separator: ", ")); got '\(secrets.redactor.redact(s))'")
            }
        }
        // Paths the step writes stay inside the recipe's work folder (on the real path, links followed).
        for spec in kind.schema.inputs where spec.role == .outputPath {
            let paths: [Value] =
                switch real[spec.name] {
                case .string(let s)?: [.string(s)]
                case .list(let items)?: items
                default: []
                }
            for p in paths {
                guard let s = p.stringValue, !s.isEmpty else { continue }
                do { _ = try layout.confinedPath(s) } catch {
                    throw StepError("step '\(step.id)': input '\(spec.name)': \(secrets.redactor.redact(String(describing: error)))")
                }
            }
        }
        // Path inputs: stat first, hash only when stat changed since the last success.
        var digests: [String: PathDigest] = [:]
        var pathSlots: [(String, String)] = []
        for spec in kind.schema.inputs {
            if spec.type == .path, let p = real[spec.name]?.stringValue, !p.isEmpty {
                pathSlots.append((spec.name, p))
            } else if spec.role == .readPaths {
                for (i, item) in (real[spec.name]?.listValue ?? []).enumerated() {
                    if let p = item.stringValue, !p.isEmpty { pathSlots.append(("\(spec.name)[\(i)]", p)) }
                }
            }
        }
        var deferred: [(slot: String, path: String, stat: FileSignature)] = []
        for (slot, p) in pathSlots {
            let path = p.hasPrefix("/") ? p : layout.workDir + "/" + p
            guard let sig = FileSignature.capture(path) else {
                digests[slot] = PathDigest(path: path, stat: FileSignature(size: 0, mtimeNs: 0, isDirectory: false), contentSHA256: "missing")
                continue
            }
            if let old = record?.pathInputs[slot], old.path == path, old.stat.sameStat(as: sig) {
                digests[slot] = old
            } else if deferHashing {
                deferred.append((slot, path, sig))
            } else {
                digests[slot] = PathDigest(path: path, stat: sig, contentSHA256: try Self.contentDigest(path, isDirectory: sig.isDirectory))
            }
        }
        let category = kind.category(values: real)
        var prepared = Prepared(
            inputs: real, fingerprintInputs: fp, displayInputs: shown, pathDigests: digests,
            fingerprint: Prepared.fingerprint(kind: step.uses, version: kind.schema.version, inputs: fp, digests: digests), category: category)
        prepared.deferred = deferred
        prepared.notes = absentNotes.map { "\($0) left out: an optional secret it uses is not set" }
            + commandVariables.map { "\($0.name) = \(TrustPrompt.visible($0.shown))  (${{ \($0.reference) }})" }
        prepared.commandVariables = commandVariables
        prepared.kind = step.uses
        prepared.version = kind.schema.version
        return prepared
    }

    /// The content digest of a path input: a file's SHA-256, or a folder's over its files' paths and digests.
    static func contentDigest(_ path: String, isDirectory: Bool) throws -> String {
        if !isDirectory { return try FileDigestCache.sha256(ofFile: path).hexString }
        // The files are hashed on all cores (largest first, so one big file does not finish last alone), then
        // combined in path order: the digest is the same as hashing them one by one.
        let entries = FileTree.regularFiles(under: path)
        let files = entries.map(\.path)
        let order = files.indices.sorted { entries[$0].status.size > entries[$1].status.size }
        let results = Mutex<[Int: Result<[UInt8], any Error>]>([:])
        let next = Atomic<Int>(0)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, files.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let k = next.add(1, ordering: .relaxed).oldValue
                guard k < order.count else { return }
                let i = order[k]
                let r = Result { try FileDigestCache.sha256(ofFile: path + "/" + files[i]) }
                results.withLock { $0[i] = r }
            }
        }
        let digests = results.withLock { $0 }
        var h = SHA256Hasher()
        for (i, rel) in files.enumerated() {
            h.update(Data(rel.utf8))
            h.update(Data([0]))
            h.update(Data(try digests[i]!.get()))
        }
        return h.finalize().hexString
    }

    /// What the step's kind sees while it runs (and validates its recorded outputs).
    func context(_ step: StepSpec, _ p: Prepared) -> StepContext {
        StepContext(
            stepID: step.id, kind: step.uses, inputs: p.inputs, layout: layout, runID: runID, recipeName: recipe.name,
            environment: options.environment, assumeYes: options.assumeYes, services: engine.services, ledger: ledger,
            reporter: engine.reporter, redactor: secrets.redactor, key: key,
            commandEnvironment: Dictionary(p.commandVariables.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }))
    }
}

/// The value of one expression of a shell command, passed as an environment variable.
struct CommandVariable: Sendable {
    var name: String
    var reference: Reference
    /// The value (a secret in clear if one reached it through a step output: never print it).
    var value: String
    /// The value with secrets named directly shown as `***` (still to be redacted before printing).
    var shown: String
}

