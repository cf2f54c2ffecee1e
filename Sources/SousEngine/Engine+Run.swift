import Foundation
public import SousRecipe
import SousCrypto

extension Engine {
    /// Runs a recipe: takes the lock, executes the selected steps, records state after every step.
    /// - Throws: ``LockTimeoutError``, ``WorkspaceError``, ``RecipeError`` (params/env),
    ///   ``StepError`` for bad selections, ``InterruptedError`` when cancelled. A failing step does
    ///   not throw: the result's status says `failed`.
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
        let key = try layout.hashingKey()
        var secrets = SecretStore(recipe: recipe, environment: options.environment)
        let runID = Self.makeRunID()
        let recorder = RunRecorder(
            layout: layout, runID: runID, recipe: recipe, ledger: ledger, environment: options.environment, redactor: secrets.redactor)
        let started = Date()
        let order = executionOrder(recipe)
        let selected = try selection(recipe, order: order, options: options)
        let total = order.count
        reporter.handle(.runStarted(recipe: recipe.name, runID: runID, steps: total, workspace: layout.recipeDir))

        // Commands (and, for a recipe from a URL, creates) are approved step by step, once resolved.
        var trust = TrustStore(path: layout.approvalsPath)
        let recipeHash = recipeHash(recipe)

        var outputs: [String: ValueMap] = state.steps.mapValues(\.outputs)
        var summary = RunSummary(runID: runID, startedAt: started, finishedAt: nil, status: "running", ran: [], skipped: [], failed: nil)
        state.runs.append(summary)
        if state.runs.count > 50 { state.runs.removeFirst(state.runs.count - 50) }
        try state.save(layout)

        func finish(_ status: RunStatus, error: String?) throws -> RunResult {
            summary.finishedAt = Date()
            summary.status = status.rawValue
            state.runs[state.runs.count - 1] = summary
            try state.save(layout)
            recorder.finish(status: status, error: error, redactor: secrets.redactor)
            reporter.handle(.runFinished(runID: runID, status: status, duration: Date().timeIntervalSince(started), recordPath: recorder.dir))
            return RunResult(runID: runID, status: status, recordPath: recorder.dir, error: error)
        }

        for (i, step) in order.enumerated() {
            guard let kind = registry[step.uses] else { continue }
            let index = i + 1
            if !selected.contains(step.id) {
                if case .all = options.selection, options.keep, kind.schema.category == .teardown {
                    reporter.handle(.stepSkipped(index: index, total: total, step: step.id, kind: step.uses, reason: "kept (--keep)"))
                    recorder.skipped(step, reason: "kept (--keep)", redactor: secrets.redactor)
                }
                continue
            }
            if Task.isCancelled { return try finish(.interrupted, error: InterruptedError().description) }
            var prepared: Prepared
            // A step that runs whatever its fingerprint (never run here, or forced) hashes its path inputs after
            // it ran instead of before: the step itself often reads them (an upload hashes each file for its
            // checksum), so the digests come from the cache and the bytes are not read twice up front.
            let runsAnyway = state.steps[step.id] == nil || isForced(step, options: options) != nil
            do {
                prepared = try prepare(step, kind: kind, recipe: recipe, params: params, outputs: outputs, secrets: &secrets, key: key, layout: layout, runID: runID, record: state.steps[step.id], options: options, deferHashing: runsAnyway)
            } catch {
                let message = secrets.redactor.redact(String(describing: error))
                reporter.handle(.stepFailed(index: index, total: total, step: step.id, kind: step.uses, duration: 0, error: message))
                recorder.failed(step, inputs: nil, reason: "could not resolve inputs", duration: 0, error: message, ctx: nil, redactor: secrets.redactor)
                summary.failed = step.id
                return try finish(.failed, error: "step '\(step.id)' failed: \(message)")
            }
            let ctx = makeContext(step, prepared, layout: layout, runID: runID, recipe: recipe, options: options, ledger: ledger, redactor: secrets.redactor)
            let decision = await decide(step, kind: kind, prepared: prepared, record: state.steps[step.id], options: options, ctx: ctx)
            if !decision.willRun {
                reporter.handle(.stepSkipped(index: index, total: total, step: step.id, kind: step.uses, reason: decision.reason == "up to date" ? "cached" : decision.reason))
                recorder.skipped(
                    step, reason: decision.reason, inputs: prepared.displayInputs,
                    outputs: state.steps[step.id].map { redactOutputs($0.outputs, secrets.redactor) }, redactor: secrets.redactor)
                summary.skipped.append(step.id)
                continue
            }
            if let request = approvalRequest(step, kind: kind, prepared: prepared, recipe: recipe, recipeHash: recipeHash, key: key, redactor: secrets.redactor),
                !trust.contains(request.key)
            {
                guard options.assumeYes || options.confirm(request.prompt) else {
                    reporter.handle(.stepFailed(index: index, total: total, step: step.id, kind: step.uses, duration: 0, error: request.refusal))
                    recorder.failed(step, inputs: prepared.displayInputs, reason: "not confirmed", duration: 0, error: request.refusal, ctx: ctx, redactor: secrets.redactor)
                    summary.failed = step.id
                    return try finish(.failed, error: "step '\(step.id)' failed: not confirmed")
                }
                do { try trust.add(request.key) } catch {
                    reporter.handle(.warning(step: step.id, message: "approved for this run only: \(error)"))
                }
            }
            reporter.handle(.stepStarted(index: index, total: total, step: step.id, kind: step.uses, reason: decision.reason))
            let t0 = Date()
            do {
                try Task.checkCancellation()
                let produced = try await kind.run(ctx)
                try Task.checkCancellation()
                prepared.finishDeferred { path, isDirectory in try self.contentDigest(path, isDirectory: isDirectory) }
                let duration = Date().timeIntervalSince(t0)
                let stored = produced
                let record = StepRecord(
                    kind: step.uses, version: kind.schema.version, category: prepared.category, fingerprint: prepared.fingerprint,
                    inputs: prepared.fingerprintInputs, pathInputs: prepared.pathDigests, outputs: stored,
                    outputFiles: outputSignatures(kind, stored), runID: runID, finishedAt: Date(), duration: duration)
                state.steps[step.id] = record
                outputs[step.id] = stored
                if prepared.category == .teardown {
                    // What a teardown undoes must be created again on the next run.
                    for up in step.upstream where registry[recipe.step(up)?.uses ?? ""]?.schema.category == .create {
                        state.steps[up] = nil
                    }
                }
                summary.ran.append(step.id)
                state.runs[state.runs.count - 1] = summary
                try state.save(layout)
                reporter.handle(.stepFinished(index: index, total: total, step: step.id, kind: step.uses, duration: duration, outputs: redactOutputs(stored, secrets.redactor)))
                recorder.ran(step, inputs: prepared.displayInputs, reason: decision.reason, duration: duration, outputs: redactOutputs(stored, secrets.redactor), ctx: ctx)
            } catch {
                let duration = Date().timeIntervalSince(t0)
                let interrupted = Task.isCancelled || error is CancellationError
                let message = interrupted ? InterruptedError().description : secrets.redactor.redact(String(describing: error))
                reporter.handle(.stepFailed(index: index, total: total, step: step.id, kind: step.uses, duration: duration, error: message))
                recorder.failed(
                    step, inputs: prepared.displayInputs, reason: decision.reason, duration: duration, error: message, ctx: ctx,
                    redactor: secrets.redactor)
                summary.failed = step.id
                return try finish(interrupted ? .interrupted : .failed, error: interrupted ? message : "step '\(step.id)' failed: \(message)")
            }
        }
        return try finish(.succeeded, error: nil)
    }

    func redactOutputs(_ outputs: ValueMap, _ redactor: Redactor) -> ValueMap {
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

    func outputSignatures(_ kind: any StepKind, _ outputs: ValueMap) -> [String: FileSignature] {
        var out: [String: FileSignature] = [:]
        for spec in kind.schema.outputs where spec.type == .path {
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
        let secrets = SecretStore(recipe: recipe, environment: options.environment)
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
                reporter: reporter, redactor: secrets.redactor)
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

/// A step kind whose runs need the user's consent (it runs commands from the recipe): before it runs,
/// `sous run` shows the command as resolved and asks, unless the same command of the same recipe was
/// approved before in this workspace (``TrustStore``).
public protocol ConfirmableStepKind: StepKind {
    /// The input holding the command shown in the confirmation.
    var confirmationInput: String { get }
    /// More lines of the confirmation, from the resolved inputs (secrets shown as `***`): what else decides
    /// what runs, such as the environment. Part of what an approval covers.
    func confirmationDetails(inputs: ValueMap) -> [String]
}

extension ConfirmableStepKind {
    public func confirmationDetails(inputs: ValueMap) -> [String] { [] }
}
