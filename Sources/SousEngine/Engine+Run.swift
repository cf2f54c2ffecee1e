import Foundation
public import SousRecipe
import SousCrypto

extension Engine {
    /// Runs a recipe: takes the lock, then walks the steps (``walk``) executing the selected ones that are not
    /// up to date, recording state after every step.
    /// - Throws: ``LockTimeoutError``, ``WorkspaceError``, ``RecipeError`` (params/env),
    ///   ``StepError`` for bad selections. A failing step does not throw: the result's status says `failed`
    ///   (`interrupted` when cancelled).
    public func run(_ recipe: Recipe, params: ValueMap, options: RunOptions) async throws -> RunResult {
        let layout = layout(for: recipe)
        try FileManager.default.createDirectory(atPath: layout.workDir, withIntermediateDirectories: true)
        let lock = try WorkspaceLock(path: layout.lockPath, wait: options.lockWait, command: options.commandLine) { holder in
            let who = holder.map { "pid \($0.pid) on \($0.host)" } ?? "another sous process"
            reporter.handle(.warning(step: nil, message: "waiting for the recipe lock held by \(who) (up to \(Int(options.lockWait)) s)"))
        }
        defer { lock.release() }
        var state = try RecipeState.load(layout)
        state.recipePath = recipe.path
        let ledger = try ResourceLedger(path: layout.ledgerPath)
        let key = try layout.hashingKey(create: true)
        let runID = Self.makeRunID()
        let redactor = SecretStore(recipe: recipe, environment: options.environment).redactor
        let recorder = RunRecorder(
            layout: layout, runID: runID, recipe: recipe, ledger: ledger, environment: options.environment, redactor: redactor)
        let steps = try steps(recipe, options: options)
        let session = try RunSession(
            engine: self, recipe: recipe, options: options, state: state, recorder: recorder, runID: runID, steps: steps.order.count,
            redactor: redactor)
        for warning in ledger.warnings { reporter.handle(.warning(step: nil, message: warning)) }
        do {
            _ = try await walk(recipe, params: params, options: options, steps: steps, state: state, ledger: ledger, key: key, runID: runID, session: session)
        } catch is CancellationError {
            session.stop(.interrupted, error: InterruptedError().description)
        }
        return try session.finish()
    }

    static func redactOutputs(_ outputs: ValueMap, _ redactor: Redactor) -> ValueMap {
        guard !redactor.isEmpty else { return outputs }
        func r(_ v: Value) -> Value {
            switch v {
            case .string(let s): return .string(redactor.redact(s))
            case .list(let l): return .list(l.map(r))
            case .map(let m): return .map(ValueMap(m.map { ($0.key, r($0.value)) }))
            default: return v
            }
        }
        return ValueMap(outputs.map { ($0.key, r($0.value)) })
    }

    static func outputSignatures(_ schema: StepKindSchema, _ outputs: ValueMap) -> [String: FileSignature] {
        var out: [String: FileSignature] = [:]
        for spec in schema.outputs where spec.type == .path {
            guard let p = outputs[spec.name]?.stringValue, var sig = FileSignature.capture(p) else { continue }
            if !sig.isDirectory {
                if let h = outputs["sha256"]?.stringValue, spec.name == "path" {
                    sig.sha256 = h
                } else if sig.size <= 64 << 20 {
                    sig.sha256 = try? sha256OfFile(atPath: p).hexString
                }
            }
            out[spec.name] = sig
        }
        return out
    }

    static func makeRunID() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let suffix = Digest.randomBytes(2).hexString
        return f.string(from: Date()) + "-" + suffix
    }

    // MARK: - destroy

    /// Deletes every live resource in the recipe's ledger, newest first, through the kinds that made them.
    /// - Returns: the names destroyed.
    public func destroy(_ recipe: Recipe, options: RunOptions) async throws -> [String] {
        let layout = layout(for: recipe)
        let lock = try WorkspaceLock(path: layout.lockPath, wait: options.lockWait, command: "sous destroy")
        defer { lock.release() }
        var state = try RecipeState.load(layout)
        let ledger = try ResourceLedger(path: layout.ledgerPath)
        for warning in ledger.warnings { reporter.handle(.warning(step: nil, message: warning)) }
        let secrets = SecretStore(recipe: recipe, environment: options.environment)
        let key = try layout.hashingKey(create: false)
        var destroyed: [String] = []
        var failures: [String] = []
        for entry in ledger.live.reversed() {
            guard let kind = registry[entry.kind] else {
                failures.append("\(entry.type) '\(entry.name)': step kind \(entry.kind) is unknown to this sous")
                continue
            }
            let ctx = StepContext(
                stepID: entry.step, kind: entry.kind, inputs: ValueMap(), layout: layout, runID: "destroy", recipeName: recipe.name,
                environment: options.environment, assumeYes: options.assumeYes, services: services, ledger: ledger,
                reporter: reporter, redactor: secrets.redactor, key: key)
            do {
                try await kind.destroy(entry, ctx: ctx)
                try ctx.markDeleted(entry)
                state.steps[entry.step] = nil
                destroyed.append("\(entry.type) \(entry.name)")
                reporter.handle(.stepLog(step: entry.step, line: "deleted \(entry.type) '\(entry.name)'"))
            } catch {
                failures.append("\(entry.type) '\(entry.name)': \(secrets.redactor.redact(String(describing: error)))")
            }
        }
        try state.save(layout)
        if !failures.isEmpty {
            throw StepError("could not delete \(failures.count) resource(s):\n" + failures.map { "  " + $0 }.joined(separator: "\n"))
        }
        return destroyed
    }
}

/// A run around the walk (``Engine/walk``): it executes the steps the walk decides to run, reports and records
/// every step, keeps `state.json` current after each one, asks for approvals, and ends the run.
final class RunSession {
    let engine: Engine
    let recipe: Recipe
    let options: RunOptions
    let layout: WorkspaceLayout
    let recorder: RunRecorder
    let runID: String
    let started = Date()
    var state: RecipeState
    var summary: RunSummary
    var trust: TrustStore
    let recipeHash: String
    /// How the run ended early (a failed, refused or interrupted step); nil while it goes on.
    private(set) var stopped: (status: RunStatus, error: String)?
    /// The latest redactor the walk handed over (used for the run's last words).
    private var redactor: Redactor

    /// Starts the run: reports it and records it as running in the state.
    init(
        engine: Engine, recipe: Recipe, options: RunOptions, state: RecipeState, recorder: RunRecorder, runID: String, steps: Int,
        redactor: Redactor
    ) throws {
        self.engine = engine
        self.recipe = recipe
        self.options = options
        self.layout = engine.layout(for: recipe)
        self.recorder = recorder
        self.runID = runID
        self.state = state
        self.redactor = redactor
        // Commands (and, for a recipe from a URL, creates) are approved step by step, once resolved.
        trust = TrustStore(path: layout.approvalsPath)
        recipeHash = engine.recipeHash(recipe)
        engine.reporter.handle(.runStarted(recipe: recipe.name, runID: runID, steps: steps, workspace: layout.recipeDir))
        summary = RunSummary(runID: runID, startedAt: started, finishedAt: nil, status: "running", ran: [], skipped: [], failed: nil)
        self.state.runs.append(summary)
        if self.state.runs.count > 50 { self.state.runs.removeFirst(self.state.runs.count - 50) }
        try self.state.save(layout)
    }

    var reporter: any RunReporter { engine.reporter }

    /// A teardown left out by `--keep` (reported when the whole recipe runs).
    func kept(_ p: StepPosition, redactor: Redactor) {
        self.redactor = redactor
        guard case .all = options.selection else { return }
        reporter.handle(.stepSkipped(index: p.index, total: p.total, step: p.step.id, kind: p.step.uses, reason: "kept (--keep)"))
        recorder.skipped(p.step, reason: "kept (--keep)", redactor: redactor)
    }

    /// A step whose inputs could not be resolved: it fails, and the run stops.
    func unresolved(_ p: StepPosition, error: any Error, redactor: Redactor) {
        self.redactor = redactor
        let message = redactor.redact(String(describing: error))
        reporter.handle(.stepFailed(index: p.index, total: p.total, step: p.step.id, kind: p.step.uses, duration: 0, error: message))
        recorder.failed(p.step, inputs: nil, reason: "could not resolve inputs", duration: 0, error: message, ctx: nil, redactor: redactor)
        fail(p.step, error: "step '\(p.step.id)' failed: \(message)")
    }

    /// A step that is up to date (or kept).
    func skipped(_ p: StepPosition, prepared: Prepared, decision: StepDecision, record: StepRecord?, redactor: Redactor) {
        self.redactor = redactor
        reporter.handle(
            .stepSkipped(
                index: p.index, total: p.total, step: p.step.id, kind: p.step.uses, reason: decision.reason == "up to date" ? "cached" : decision.reason))
        recorder.skipped(
            p.step, reason: decision.reason, inputs: prepared.displayInputs,
            outputs: record.map { Engine.redactOutputs($0.outputs, redactor) }, redactor: redactor)
        summary.skipped.append(p.step.id)
    }

    /// Asks for approval where needed, runs the step, checks and records its outputs.
    /// - Returns: the outputs; nil when the step failed, was refused or interrupted (the run stops).
    func execute(_ p: StepPosition, prepared: Prepared, decision: StepDecision, ctx: StepContext, key: [UInt8]) async -> ValueMap? {
        let (step, kind) = (p.step, p.kind)
        let redactor = ctx.redactor
        self.redactor = redactor
        if let request = engine.approvalRequest(
            step, kind: kind, prepared: prepared, recipe: recipe, recipeHash: recipeHash, key: key, redactor: redactor),
            !trust.contains(request.key)
        {
            guard options.assumeYes || options.confirm(request.prompt) else {
                reporter.handle(.stepFailed(index: p.index, total: p.total, step: step.id, kind: step.uses, duration: 0, error: request.refusal))
                recorder.failed(step, inputs: prepared.displayInputs, reason: "not confirmed", duration: 0, error: request.refusal, ctx: ctx, redactor: redactor)
                fail(step, error: "step '\(step.id)' failed: not confirmed")
                return nil
            }
            do { try trust.add(request.key) } catch {
                reporter.handle(.warning(step: step.id, message: "approved for this run only: \(error)"))
            }
        }
        reporter.handle(.stepStarted(index: p.index, total: p.total, step: step.id, kind: step.uses, reason: decision.reason))
        let t0 = Date()
        var prepared = prepared
        do {
            try Task.checkCancellation()
            let produced = try await kind.execute(ctx)
            ctx.finishOutput()
            try Task.checkCancellation()
            try OutputMismatch.check(produced, of: step, kind: kind.schema, in: recipe)
            prepared.finishDeferred { path, isDirectory in try StepWalk.contentDigest(path, isDirectory: isDirectory) }
            let duration = Date().timeIntervalSince(t0)
            let record = StepRecord(
                kind: step.uses, version: kind.schema.version, category: prepared.category, fingerprint: prepared.fingerprint,
                inputs: prepared.fingerprintInputs, pathInputs: prepared.pathDigests, outputs: produced,
                outputFiles: Engine.outputSignatures(kind.schema, produced), runID: runID, finishedAt: Date(), duration: duration)
            state.steps[step.id] = record
            if prepared.category == .teardown {
                // What a teardown undoes must be created again on the next run.
                for up in step.upstream where engine.registry[recipe.step(up)?.uses ?? ""]?.schema.category == .create {
                    state.steps[up] = nil
                }
            }
            summary.ran.append(step.id)
            state.runs[state.runs.count - 1] = summary
            try state.save(layout)
            let shown = Engine.redactOutputs(produced, redactor)
            reporter.handle(.stepFinished(index: p.index, total: p.total, step: step.id, kind: step.uses, duration: duration, outputs: shown))
            recorder.ran(step, inputs: prepared.displayInputs, reason: decision.reason, duration: duration, outputs: shown, ctx: ctx)
            return produced
        } catch {
            ctx.finishOutput()
            let duration = Date().timeIntervalSince(t0)
            let interrupted = Task.isCancelled || error is CancellationError
            let message = interrupted ? InterruptedError().description : redactor.redact(String(describing: error))
            reporter.handle(.stepFailed(index: p.index, total: p.total, step: step.id, kind: step.uses, duration: duration, error: message))
            recorder.failed(step, inputs: prepared.displayInputs, reason: decision.reason, duration: duration, error: message, ctx: ctx, redactor: redactor)
            summary.failed = step.id
            stop(interrupted ? .interrupted : .failed, error: interrupted ? message : "step '\(step.id)' failed: \(message)")
            return nil
        }
    }

    private func fail(_ step: StepSpec, error: String) {
        summary.failed = step.id
        stop(.failed, error: error)
    }

    /// Ends the run early with `status`.
    func stop(_ status: RunStatus, error: String) {
        if stopped == nil { stopped = (status, error) }
    }

    /// Records how the run ended (succeeded unless it stopped early) and reports it.
    func finish() throws -> RunResult {
        let status = stopped?.status ?? .succeeded
        let error = stopped?.error
        summary.finishedAt = Date()
        summary.status = status.rawValue
        state.runs[state.runs.count - 1] = summary
        try state.save(layout)
        recorder.finish(status: status, error: error, redactor: redactor)
        reporter.handle(.runFinished(runID: runID, status: status, duration: Date().timeIntervalSince(started), recordPath: recorder.dir))
        return RunResult(runID: runID, status: status, recordPath: recorder.dir, error: error)
    }
}

/// Outputs a kind returned that do not match what it declares: a bug in the kind, reported at the step.
struct OutputMismatch {
    /// Throws ``StepError`` naming the step, its position in the recipe and every mismatch: a declared output
    /// missing, one of the wrong type, one not declared.
    static func check(_ produced: ValueMap, of step: StepSpec, kind schema: StepKindSchema, in recipe: Recipe) throws {
        var problems: [String] = []
        for spec in schema.outputs {
            guard let v = produced[spec.name] else {
                problems.append("output '\(spec.name)' is missing")
                continue
            }
            if !spec.type.accepts(v) { problems.append("output '\(spec.name)' must be \(spec.type.article), got \(v.type.rawValue)") }
        }
        for e in produced where schema.output(e.key) == nil {
            problems.append("output '\(e.key)' is not declared")
        }
        guard !problems.isEmpty else { return }
        let at = SourceLocation(file: recipe.path, mark: step.mark)
        throw StepError(
            "\(at.file):\(at.line):\(at.column): step '\(step.id)': \(schema.kind) returned outputs that do not match its declaration (a bug in the step kind): "
                + problems.joined(separator: "; "))
    }
}
