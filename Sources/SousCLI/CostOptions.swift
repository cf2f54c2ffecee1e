import ArgumentParser
import Foundation
import SousAWS
import SousEngine
import SousRecipe
import SousSteps

/// `--max-hourly-cost` (run, plan): the budget a run's endpoints must stay within, else the recipe's `budget:`.
struct BudgetOptions: ParsableArguments {
    @Option(
        name: .customLong("max-hourly-cost"),
        help: ArgumentHelp(
            "Refuse, before anything is created, a run whose endpoints would cost more than this many US dollars per hour (an estimate from sous's price table; overrides the recipe's budget:).",
            valueName: "usd"))
    var maxHourlyCost: Double?

    func validate() throws {
        if let m = maxHourlyCost, !(m > 0) || !m.isFinite { throw ValidationError("--max-hourly-cost must be a number of dollars above 0") }
    }

    func budget(_ recipe: Recipe) -> CostBudget? { CostBudget.effective(option: maxHourlyCost, recipe: recipe) }

    /// Checks the endpoints the run's selected steps would keep running against the budget, before the run creates
    /// anything. On AWS a run over budget is refused (exit 2); on the local cloud, which costs nothing, it is a warning
    /// that says what AWS would refuse.
    func check(_ recipe: Recipe, params: ValueMap, engine: Engine, options: RunOptions, local: Bool) throws {
        guard let budget = budget(recipe) else { return }
        let selected = try engine.selectedSteps(recipe, options: options)
        let costs = EndpointCosts.estimate(recipe, params: params, steps: selected, registry: engine.registry, environment: options.environment)
        guard let why = budget.refusal(costs) else { return }
        if local {
            Console.err("warning: on AWS this run would be refused: \(why)\nwarning: the local cloud costs $0, so the run goes on\n")
            return
        }
        Console.err("error: over budget, nothing was created: \(why)\n")
        throw ExitStatus.invalid
    }
}

/// The cost lines `sous plan` prints: per endpoint step, and the total the run would create.
enum PlanCosts {
    /// Cost of each decision that creates an endpoint, by step id.
    static func byStep(_ recipe: Recipe, params: ValueMap, decisions: [StepDecision], registry: StepRegistry, environment: [String: String])
        -> [String: EndpointCost]
    {
        let costs = EndpointCosts.estimate(recipe, params: params, steps: Set(decisions.map(\.step)), registry: registry, environment: environment)
        return Dictionary(costs.map { ($0.step, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The line under a step: `cost ml.g5.2xlarge × 1 ≈ $1.515/h (estimate)`, or `already running` when it is skipped.
    static func detail(_ c: EndpointCost, willRun: Bool, local: Bool) -> String {
        let s: String
        if let type = c.instanceType, let q = c.quote {
            s = "cost \(type) × \(c.count) \(EndpointCosts.rate(q.hourly, local: local)) (estimate\(q.note.map { "; " + $0 } ?? ""))"
        } else {
            s = "cost: " + c.summary
        }
        return willRun ? s : s + ", already running"
    }

    /// The summary lines after the plan.
    static func footer(_ costs: [String: EndpointCost], decisions: [StepDecision], budget: CostBudget?, local: Bool) -> [String] {
        let running = decisions.filter(\.willRun).compactMap { costs[$0.step] }
        let kept = decisions.filter { !$0.willRun }.compactMap { costs[$0.step] }
        var out: [String] = []
        if !running.isEmpty {
            let unknown = running.filter { $0.quote == nil }.map(\.step)
            out.append(
                "cost     the run would create endpoints at \(EndpointCosts.rate(EndpointCosts.hourly(running), local: local)) (estimate)"
                    + (unknown.isEmpty ? "" : ", plus \(unknown.joined(separator: ", ")) (cost unknown)"))
        }
        if !kept.isEmpty {
            out.append("         already running: \(EndpointCosts.rate(EndpointCosts.hourly(kept), local: local)) (estimate)")
        }
        if !costs.isEmpty { out.append("         " + EndpointCosts.basis(regions: costs.values.map(\.region))) }
        if let budget {
            let all = running + kept
            let refused = budget.refusal(all) != nil
            out.append("budget   " + budget.summary(all) + (refused ? (local ? ": AWS would refuse this run" : ": `sous run` refuses it") : ""))
        }
        return out
    }

    /// The `cost` object of a step in `sous plan --json`.
    static func json(_ c: EndpointCost, local: Bool) -> Value {
        .map([
            "instance_type": c.instanceType.map(Value.string) ?? .null, "instance_count": .int(c.count), "region": .string(c.region),
            "hourly_usd": c.quote.map { .number($0.hourly) } ?? .null, "estimate": .bool(true), "local": .bool(local),
            "unknown": c.unknown.map(Value.string) ?? .null,
        ])
    }
}
