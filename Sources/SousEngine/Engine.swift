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

    /// Says, for every step, whether it would run and why: the walk `run` makes, without executing
    /// anything. Reads the state; never writes or locks.
    public func plan(_ recipe: Recipe, params: ValueMap, options: RunOptions) async throws -> [StepDecision] {
        let layout = layout(for: recipe)
        return try await walk(
            recipe, params: params, options: options, steps: try steps(recipe, options: options), state: try RecipeState.load(layout),
            ledger: try ResourceLedger(path: layout.ledgerPath), key: try layout.hashingKey(create: false), runID: "plan", session: nil)
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
        if case .invalid(let why) = await kind.validate(recorded: record.outputs, inputs: prepared.inputs, ctx: ctx) {
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
        text = text.replacing(#/«env:([A-Za-z0-9_\-.]+):[0-9a-f]+»/#) { "***(env.\($0.1))" }
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
}
