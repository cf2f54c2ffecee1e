import Foundation
import SousRecipe

/// What a walk over a recipe's steps carries from step to step: where the steps' values come from.
struct StepWalk {
    let engine: Engine
    let recipe: Recipe
    let params: ValueMap
    let options: RunOptions
    let layout: WorkspaceLayout
    let ledger: ResourceLedger
    /// The workspace's secret-hashing key (``WorkspaceLayout/hashingKey(create:)``).
    let key: [UInt8]
    let runID: String
    var secrets: SecretStore
    /// Every step's outputs known so far: the recorded ones, replaced by new ones as steps run.
    var outputs: [String: ValueMap]
    /// Steps that will run but whose new outputs are not known during the walk (in a plan: every one that
    /// would run). A step using their outputs cannot be judged on the old ones.
    var unknown: Set<String> = []
}

/// Where a step stands in the walk.
struct StepPosition {
    /// 1-based, in execution order.
    var index: Int
    var total: Int
    var step: StepSpec
    var kind: any StepKind
}

extension Engine {
    /// The steps of `recipe` in execution order, and the ids of those the options select.
    /// - Throws: ``StepError`` when `--step` or `--from` names no step.
    func steps(_ recipe: Recipe, options: RunOptions) throws -> (order: [StepSpec], selected: Set<String>) {
        let order = executionOrder(recipe)
        return (order, try selection(recipe, order: order, options: options))
    }

    /// The one pass over a recipe's steps that `plan` and `run` share. For each step in execution order it
    /// decides — not selected, inputs unresolved, cached, changed, upstream runs first — and, given a run
    /// `session`, the session executes the step or records it as skipped; without one (a plan) the decisions
    /// are all there is.
    /// - Returns: every step's decision (a run that stops at a failed step: those up to it).
    /// - Throws: a plan's first unresolvable input; `CancellationError` when the task is cancelled.
    func walk(
        _ recipe: Recipe, params: ValueMap, options: RunOptions, steps: (order: [StepSpec], selected: Set<String>), state: RecipeState,
        ledger: ResourceLedger, key: [UInt8], runID: String, session: RunSession?
    ) async throws -> [StepDecision] {
        var walk = StepWalk(
            engine: self, recipe: recipe, params: params, options: options, layout: layout(for: recipe), ledger: ledger, key: key,
            runID: runID, secrets: SecretStore(recipe: recipe, environment: options.environment), outputs: state.steps.mapValues(\.outputs))
        var decisions: [StepDecision] = []
        for (i, step) in steps.order.enumerated() {
            guard let kind = registry[step.uses] else { continue }
            let position = StepPosition(index: i + 1, total: steps.order.count, step: step, kind: kind)
            let redactor = walk.secrets.redactor
            guard steps.selected.contains(step.id) else {
                let kept = options.keep && kind.schema.category == .teardown
                decisions.append(
                    StepDecision(
                        step: step.id, kind: step.uses, category: kind.schema.category, willRun: false, reason: kept ? "kept (--keep)" : "not selected",
                        details: []))
                if kept { session?.kept(position, redactor: redactor) }
                continue
            }
            if Task.isCancelled { throw CancellationError() }
            let record = state.steps[step.id]
            let waitingFor = step.upstream.first { walk.unknown.contains($0) }
            let prepared: Prepared
            do {
                // A step that runs whatever its fingerprint (never run here, or forced) hashes its path inputs after
                // it ran instead of before: the step itself often reads them (an upload hashes each file for its
                // checksum), so the digests come from the cache and the bytes are not read twice up front.
                prepared = try walk.prepare(step, kind: kind, record: record, deferHashing: record == nil || isForced(step, options: options) != nil)
            } catch {
                if let up = waitingFor {
                    decisions.append(
                        StepDecision(
                            step: step.id, kind: step.uses, category: kind.schema.category, willRun: true, reason: "upstream step '\(up)' runs first",
                            details: []))
                    walk.unknown.insert(step.id)
                    continue
                }
                guard let session else { throw error }
                session.unresolved(position, error: error, redactor: walk.secrets.redactor)
                return decisions
            }
            let ctx = walk.context(step, prepared)
            var decision = await decide(step, kind: kind, prepared: prepared, record: record, options: options, ctx: ctx)
            if !decision.willRun, let up = waitingFor {
                decision.willRun = true
                decision.reason = "upstream step '\(up)' runs first (its outputs may change)"
            }
            decision.details = (kind.planDetails(values: prepared.displayInputs) + prepared.notes).map(walk.secrets.redactor.redact)
            decisions.append(decision)
            guard let session else {
                if decision.willRun { walk.unknown.insert(step.id) }
                continue
            }
            if !decision.willRun {
                session.skipped(position, prepared: prepared, decision: decision, record: record, redactor: walk.secrets.redactor)
                continue
            }
            guard let produced = await session.execute(position, prepared: prepared, decision: decision, ctx: ctx, key: key) else {
                return decisions
            }
            walk.outputs[step.id] = produced
        }
        return decisions
    }
}
