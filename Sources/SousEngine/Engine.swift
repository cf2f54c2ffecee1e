import Foundation
public import SousRecipe
import SousCrypto
import Synchronization

/// How a run is asked for on the command line.
public struct RunOptions: Sendable {
    public enum Selection: Sendable, Equatable {
        case all
        /// `--step ID`: only this step, with upstream outputs from the state.
        case step(String)
        /// `--from ID`: this step and every later one, forced.
        case from(String)
    }
    public var selection: Selection = .all
    public var force = false
    public var keep = false
    public var assumeYes = false
    public var lockWait: Double = 60
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// Asked, unless `assumeYes`, before a step runs a command (or a recipe from a URL creates a resource)
    /// not approved before; the prompt ends with the question. Returns true to go on.
    public var confirm: @Sendable (_ prompt: String) -> Bool = { _ in false }
    public var commandLine = "sous run"
    public init() {}
}

/// Why a step will run or be skipped.
public struct StepDecision: Sendable {
    public var step: String
    public var kind: String
    public var category: StepCategory
    public var willRun: Bool
    /// "no previous run", "input 'x' changed: \"a\" → \"b\"", "up to date", …
    public var reason: String
    /// Extra lines (e.g. the shell command).
    public var details: [String]
}

/// The result of `sous run`.
public struct RunResult: Sendable {
    public var runID: String
    public var status: RunStatus
    public var recordPath: String
    public var error: String?
}

/// A run stopped by Ctrl-C or SIGTERM.
public struct InterruptedError: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "interrupted; finished steps are recorded, rerun to resume" }
}

/// Plans and executes recipes in a workspace.
public struct Engine: Sendable {
    public var registry: StepRegistry
    public var workspaceRoot: String
    public var services: Services
    public var reporter: any RunReporter

    public init(registry: StepRegistry, workspaceRoot: String, services: Services = Services(), reporter: any RunReporter = SilentReporter()) {
        self.registry = registry
        self.workspaceRoot = workspaceRoot
        self.services = services
        self.reporter = reporter
    }

    public func layout(for recipe: Recipe) -> WorkspaceLayout { WorkspaceLayout(root: workspaceRoot, recipe: recipe.name) }

    /// The order steps execute in: non-teardown steps as written, then teardowns in reverse order
    /// of the create steps they undo.
    public func executionOrder(_ recipe: Recipe) -> [StepSpec] {
        var main: [StepSpec] = []
        var teardowns: [(StepSpec, Int, Int)] = []
        for (i, s) in recipe.steps.enumerated() {
            if registry[s.uses]?.schema.category == .teardown {
                let undone = s.upstream.compactMap { recipe.stepIndex($0) }.max() ?? -1
                teardowns.append((s, undone, i))
            } else {
                main.append(s)
            }
        }
        teardowns.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.2 < $1.2 }
        return main + teardowns.map(\.0)
    }

    // MARK: - plan

    /// Says, for every step, whether it would run and why. Reads the state; never writes or locks.
    public func plan(_ recipe: Recipe, params: ValueMap, options: RunOptions) async throws -> [StepDecision] {
        let layout = layout(for: recipe)
        let state = try RecipeState.load(layout)
        let ledger = try ResourceLedger(path: layout.ledgerPath)
        var secrets = SecretStore(recipe: recipe, environment: options.environment)
        let key = (try? readKey(layout)) ?? []
        var decisions: [StepDecision] = []
        var outputs: [String: ValueMap] = state.steps.mapValues(\.outputs)
        var willRun: Set<String> = []
        let order = executionOrder(recipe)
        let selected = try selection(recipe, order: order, options: options)
        for step in order {
            guard let kind = registry[step.uses] else { continue }
            if !selected.contains(step.id) {
                let kept = options.keep && kind.schema.category == .teardown
                decisions.append(StepDecision(step: step.id, kind: step.uses, category: kind.schema.category, willRun: false, reason: kept ? "kept (--keep)" : "not selected", details: []))
                continue
            }
            let upstreamRunning = step.upstream.filter { willRun.contains($0) }
            let prepared: Prepared
            do {
                prepared = try prepare(step, kind: kind, recipe: recipe, params: params, outputs: outputs, secrets: &secrets, key: key, layout: layout, runID: "plan", record: state.steps[step.id], options: options)
            } catch {
                if !upstreamRunning.isEmpty {
                    decisions.append(StepDecision(step: step.id, kind: step.uses, category: kind.schema.category, willRun: true, reason: "upstream step '\(upstreamRunning[0])' runs first", details: []))
                    willRun.insert(step.id)
                    continue
                }
                throw error
            }
            let ctx = makeContext(step, prepared, layout: layout, runID: "plan", recipe: recipe, options: options, ledger: ledger, redactor: secrets.redactor)
            var d = await decide(step, kind: kind, prepared: prepared, record: state.steps[step.id], options: options, ctx: ctx)
            if !d.willRun, let up = upstreamRunning.first {
                d.willRun = true
                d.reason = "upstream step '\(up)' runs first (its outputs may change)"
            }
            d.details = (kind.planDetails(inputs: prepared.displayInputs) + prepared.notes).map(secrets.redactor.redact)
            if d.willRun { willRun.insert(step.id) }
            if let rec = state.steps[step.id] { outputs[step.id] = rec.outputs }
            decisions.append(d)
        }
        return decisions
    }

    /// The ids of the steps a run (or plan) with these options executes.
    /// - Throws: ``StepError`` when `--step`/`--from` names no step of the recipe.
    public func selectedSteps(_ recipe: Recipe, options: RunOptions) throws -> Set<String> {
        try selection(recipe, order: executionOrder(recipe), options: options)
    }

    /// The steps a run (or plan) with these options executes.
    func selection(_ recipe: Recipe, order: [StepSpec], options: RunOptions) throws -> Set<String> {
        switch options.selection {
        case .all:
            return Set(order.filter { !(options.keep && registry[$0.uses]?.schema.category == .teardown) }.map(\.id))
        case .step(let id):
            guard recipe.step(id) != nil else {
                throw StepError("--step \(id): the recipe has no step '\(id)'\(Suggest.hint(id, recipe.steps.map(\.id))) (steps: \(recipe.steps.map(\.id).joined(separator: ", ")))")
            }
            return [id]
        case .from(let id):
            guard let i = order.firstIndex(where: { $0.id == id }) else {
                throw StepError("--from \(id): the recipe has no step '\(id)'\(Suggest.hint(id, recipe.steps.map(\.id))) (steps: \(recipe.steps.map(\.id).joined(separator: ", ")))")
            }
            return Set(order[i...].filter { !(options.keep && registry[$0.uses]?.schema.category == .teardown) }.map(\.id))
        }
    }

    func isForced(_ step: StepSpec, options: RunOptions) -> String? {
        if options.force { return "forced (--force)" }
        switch options.selection {
        case .step(let id) where id == step.id: return "asked for (--step \(id))"
        case .from(let id): return "rerun from '\(id)' (--from)"
        default: return nil
        }
    }

    // MARK: - decide

    func decide(_ step: StepSpec, kind: any StepKind, prepared: Prepared, record: StepRecord?, options: RunOptions, ctx: StepContext) async -> StepDecision {
        func d(_ run: Bool, _ reason: String) -> StepDecision {
            StepDecision(step: step.id, kind: step.uses, category: prepared.category, willRun: run, reason: reason, details: [])
        }
        if let forced = isForced(step, options: options) { return d(true, forced) }
        switch prepared.category {
        case .effect: return d(true, "effect: always runs")
        case .teardown: return options.keep ? d(false, "kept (--keep)") : d(true, "teardown: runs at the end")
        case .pure, .create: break
        }
        guard let record else { return d(true, "no previous run") }
        if record.kind != step.uses || record.version != kind.schema.version {
            return d(true, "step kind changed (\(record.kind) v\(record.version) → \(step.uses) v\(kind.schema.version))")
        }
        if record.fingerprint != prepared.fingerprint {
            return d(true, changeReason(old: record, new: prepared, redactor: ctx.redactor))
        }
        if let problem = checkOutputFiles(record, kind: kind) { return d(true, problem) }
        if case .invalid(let why) = await kind.validate(outputs: record.outputs, inputs: prepared.inputs, ctx: ctx) {
            return d(true, why)
        }
        return d(false, "up to date")
    }

    func changeReason(old: StepRecord, new: Prepared, redactor: Redactor) -> String {
        let keys = Array(Set(old.inputs.keys).union(new.fingerprintInputs.keys)).sorted()
        var changes: [String] = []
        for k in keys {
            let a = old.inputs[k], b = new.fingerprintInputs[k]
            if a != b {
                let (path, x, y) = firstDifference(k, a, b)
                changes.append("input '\(path)' changed: \(display(x, redactor)) → \(display(y, redactor))")
            }
        }
        for (k, digest) in new.pathDigests.sorted(by: { $0.key < $1.key }) {
            if let oldDigest = old.pathInputs[k], oldDigest.contentSHA256 != digest.contentSHA256, oldDigest.path == digest.path {
                changes.append("contents of input '\(k)' (\(digest.path)) changed")
            } else if old.pathInputs[k] == nil {
                changes.append("contents of input '\(k)' (\(digest.path)) are new")
            }
        }
        if changes.isEmpty { return "inputs changed" }
        return changes.joined(separator: "; ")
    }

    /// The innermost place where two values differ, as `name.key[2]`.
    func firstDifference(_ path: String, _ a: Value?, _ b: Value?) -> (String, Value?, Value?) {
        switch (a, b) {
        case (.map(let x)?, .map(let y)?):
            let keys = x.keys + y.keys.filter { !x.keys.contains($0) }
            let diffs = keys.filter { x[$0] != y[$0] }
            if diffs.count == 1 { return firstDifference(path + "." + diffs[0], x[diffs[0]], y[diffs[0]]) }
        case (.list(let x)?, .list(let y)?) where x.count == y.count:
            let diffs = x.indices.filter { x[$0] != y[$0] }
            if diffs.count == 1 { return firstDifference(path + "[\(diffs[0])]", x[diffs[0]], y[diffs[0]]) }
        default: break
        }
        return (path, a, b)
    }

    func display(_ v: Value?, _ redactor: Redactor) -> String {
        guard let v else { return "(unset)" }
        var text = v.jsonString()
        // Secret markers carry a keyed hash: show only that a secret is there.
        text = text.replacing(#/«secret:([A-Za-z0-9_\-]+):[0-9a-f]+»/#) { "***(secrets.\($0.1))" }
        text = redactor.redact(text)
        return text.count > 120 ? String(text.prefix(117)) + "…" : text
    }

    func checkOutputFiles(_ record: StepRecord, kind: any StepKind) -> String? {
        for (name, sig) in record.outputFiles.sorted(by: { $0.key < $1.key }) {
            guard let path = record.outputs[name]?.stringValue else { continue }
            guard let now = FileSignature.capture(path) else { return "output '\(name)' is missing: \(path)" }
            if now.sameStat(as: sig) { continue }
            if !sig.isDirectory, let recorded = sig.sha256, let hash = try? sha256OfFile(atPath: path).hexString, hash == recorded {
                continue
            }
            return "output '\(name)' changed on disk: \(path)"
        }
        return nil
    }

    // MARK: - prepare (resolve inputs, fingerprint)

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

    func prepare(
        _ step: StepSpec, kind: any StepKind, recipe: Recipe, params: ValueMap, outputs: [String: ValueMap],
        secrets: inout SecretStore, key: [UInt8], layout: WorkspaceLayout, runID: String, record: StepRecord?, options: RunOptions,
        deferHashing: Bool = false
    ) throws -> Prepared {
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
            func lookup(_ mode: Int) -> (Reference) throws -> Value {
                { ref in
                    switch ref {
                    case .param(let n): return params[n] ?? .null
                    case .secret(let n):
                        if absentSecrets.contains(n) { return .string(AbsentValue.marker) }
                        let v = secretValues[n] ?? ""
                        switch mode {
                        case 0: return .string(v)
                        case 1: return .string("«secret:\(n):\(Digest.hmacSHA256(key: key, data: Data(v.utf8)).hexString.prefix(16))»")
                        default: return .string("***")
                        }
                    case .env(let n):
                        guard let v = options.environment[n] else {
                            throw RecipeError([recipe.diagnostic("environment variable \(n) is not set (used by step '\(step.id)')", at: t.mark)])
                        }
                        return .string(v)
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
            let resolved = try t.resolve(lookup(0))
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
            fp[spec.name] = AbsentValue.prune(try t.resolve(lookup(1)), path: spec.name, notes: &ignored)
            shown[spec.name] = AbsentValue.prune(try t.resolve(lookup(2)), path: spec.name, notes: &ignored)
            if let command {
                // The fingerprint keeps the command with its values pasted (a changed value reruns the step
                // and reads well in "input 'command' changed"); what runs is the rewritten text.
                real[spec.name] = .string(command.text)
                shown[spec.name] = .string(command.text)
                for v in command.variables {
                    let text = try lookup(0)(v.reference).interpolationText
                    guard !text.unicodeScalars.contains("\u{0}") else {
                        throw StepError("step '\(step.id)': the value of ${{ \(v.reference) }} holds a NUL character, which cannot be passed to a command")
                    }
                    commandVariables.append(CommandVariable(
                        name: v.name, reference: v.reference, value: text, shown: try lookup(2)(v.reference).interpolationText))
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
            } else if kind.pathListInputs.contains(spec.name) {
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
                digests[slot] = PathDigest(path: path, stat: sig, contentSHA256: try contentDigest(path, isDirectory: sig.isDirectory))
            }
        }
        let category = kind.category(for: real)
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

    func contentDigest(_ path: String, isDirectory: Bool) throws -> String {
        if !isDirectory { return try FileDigestCache.sha256(ofFile: path).hexString }
        // The files are hashed on all cores (largest first, so one big file does not finish last alone), then
        // combined in path order: the digest is the same as hashing them one by one.
        let entries = FileSignature.walk(path)
        let files = entries.map(\.0)
        let order = files.indices.sorted { entries[$0].1.st_size > entries[$1].1.st_size }
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

    func readKey(_ layout: WorkspaceLayout) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: layout.keyPath) else { return [] }
        return Array(d)
    }

    func makeContext(_ step: StepSpec, _ p: Prepared, layout: WorkspaceLayout, runID: String, recipe: Recipe, options: RunOptions, ledger: ResourceLedger, redactor: Redactor) -> StepContext {
        StepContext(
            stepID: step.id, kind: step.uses, inputs: p.inputs, layout: layout, runID: runID, recipeName: recipe.name,
            environment: options.environment, assumeYes: options.assumeYes, services: services, ledger: ledger,
            reporter: reporter, redactor: redactor,
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

/// Resolves secret references at run time; values live only in memory.
struct SecretStore {
    let recipe: Recipe
    let environment: [String: String]
    private(set) var values: [String: String] = [:]
    private(set) var redactor = Redactor()

    init(recipe: Recipe, environment: [String: String]) {
        self.recipe = recipe
        self.environment = environment
        // Learn every available secret up front so output is redacted even before a step uses it.
        for s in recipe.secrets { if let v = try? read(s) { values[s.name] = v; redactor.add(v) } }
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
