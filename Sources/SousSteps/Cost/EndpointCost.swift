public import Foundation
public import SousAWS
public import SousEngine
public import SousRecipe

/// A step kind that creates a SageMaker endpoint, which is billed per instance-hour until it is deleted.
protocol BilledEndpointKind: StepKind {
    /// Where the step's instance type and count come from.
    var instanceSource: InstanceSource { get }
}

/// Where a billed step's instance type and count are written.
enum InstanceSource {
    /// Its own `instance_type` and `instance_count` inputs (`sagemaker.deploy`).
    case inputs
    /// The inputs of the endpoint-config step whose output this input names (`sagemaker.endpoint`'s
    /// `endpoint_config_name: ${{ steps.config.outputs.endpoint_config_name }}`).
    case configStep(input: String)
}

/// What one endpoint-creating step would cost per hour once it ran, as far as the recipe says before anything runs.
public struct EndpointCost: Sendable, Equatable {
    public var step: String
    /// nil when the recipe does not say before the run (`unknown` says why).
    public var instanceType: String?
    public var count: Int
    public var region: String
    /// nil when the type is unknown, or not in the price table.
    public var quote: SageMakerPriceQuote?
    /// Why there is no quote.
    public var unknown: String?

    /// `ml.g5.2xlarge × 1 ≈ $1.515/h` (or why there is no price).
    public var summary: String {
        guard let instanceType else { return "cost unknown: \(unknown ?? "no instance type")" }
        let what = "\(instanceType) × \(count)"
        guard let quote else { return "\(what), cost unknown: \(unknown ?? "not in the price table")" }
        return "\(what) ≈ \(Dollars.format(quote.hourly))/h"
    }
}

/// The hourly cost of the endpoints a recipe's steps create, worked out from the recipe and its params alone (no
/// AWS call, nothing run): what `sous plan` shows, what budgets are checked against before the first create, and what
/// the run recap prices.
public enum EndpointCosts {
    /// Whether prices are for the local cloud (which costs nothing) rather than AWS: set by `--local` (and
    /// `sous local env`) in the environment the steps get.
    public static let localCloudVariable = "SOUS_LOCAL_CLOUD"

    public static func isLocal(_ environment: [String: String]) -> Bool { !(environment[localCloudVariable] ?? "").isEmpty }

    /// The footnote every estimate carries: the built-in table's source, and for each of `regions` whose AWS Price
    /// List `sous prices update` cached, that list and its date.
    public static func basis(regions: [String], environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let lists = Set(regions).sorted().compactMap { SageMakerPriceList.cached(region: $0, environment: environment) }
        guard !lists.isEmpty else { return "estimate: \(SageMakerInstanceType.priceSource); other regions, storage and data transfer differ" }
        return "estimate: " + lists.map(\.basis).joined(separator: "; ")
            + " (cached by `sous prices update`), else \(SageMakerInstanceType.priceSource); storage and data transfer not included"
    }

    /// The cost of each step of `steps` that creates an endpoint, in recipe order.
    /// - Parameters:
    ///   - steps: the ids of the steps to price (the run's selection, or what the plan says would run).
    ///   - environment: for `${{ env.X }}` and the default region (`AWS_REGION`, the profile's region).
    public static func estimate(
        _ recipe: Recipe, params: ValueMap, steps: Set<String>, registry: StepRegistry, environment: [String: String]
    ) -> [EndpointCost] {
        let defaultRegion = (try? AWSConfiguration(environment: environment))?.region ?? "us-east-1"
        var out: [EndpointCost] = []
        for step in recipe.steps where steps.contains(step.id) {
            guard let kind = registry[step.uses] as? any BilledEndpointKind else { continue }
            var source: StepSpec? = step
            var unknown: String?
            if case .configStep(let input) = kind.instanceSource {
                source = nil
                if case .expression(.stepOutput(let s, _), _)? = step.input(input), let config = recipe.step(s) {
                    source = config
                } else {
                    unknown = "its endpoint config is not made by this recipe"
                }
            }
            let resolve = { (spec: StepSpec?, name: String) in value(spec, name, recipe: recipe, params: params, registry: registry, environment: environment) }
            let region = resolve(step, "region")?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? defaultRegion
            let type = resolve(source, "instance_type")?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            let count = resolve(source, "instance_count")?.intValue ?? 1
            if type == nil, unknown == nil { unknown = "its instance type is only known once earlier steps ran" }
            var cost = EndpointCost(step: step.id, instanceType: type, count: count, region: region, quote: nil, unknown: unknown)
            if let type {
                cost.quote = SageMakerPriceQuote(instanceType: type, count: count, region: region)
                if cost.quote == nil { cost.unknown = "\(type) is not in sous's price table" + (SageMakerPriceList.cached(region: region) == nil ? "" : " nor in the cached AWS Price List for \(region)") }
            }
            out.append(cost)
        }
        return out
    }

    /// Input `name` of `step` resolved from params, environment and the recipe (its default when not given); nil
    /// when it depends on a step output or a secret, which are not known before the run.
    static func value(
        _ step: StepSpec?, _ name: String, recipe: Recipe, params: ValueMap, registry: StepRegistry, environment: [String: String]
    ) -> Value? {
        guard let step else { return nil }
        guard let template = step.input(name) else { return registry[step.uses]?.schema.input(name)?.defaultValue }
        struct Unknown: Error {}
        return try? template.resolve { ref in
            switch ref {
            case .param(let n): return params[n] ?? .null
            case .env(let n): return environment[n].map(Value.string) ?? .null
            case .recipeName: return .string(recipe.name)
            case .recipeDir: return .string(recipe.directory)
            case .secret, .stepOutput, .runID, .workspace: throw Unknown()
            }
        }
    }

    /// The total of the known quotes.
    public static func hourly(_ costs: [EndpointCost]) -> Double { costs.compactMap(\.quote?.hourly).reduce(0, +) }

    /// `≈ $1.515/h` on AWS, `local: $0 (≈ $1.515/h on AWS)` on the local cloud.
    public static func rate(_ hourly: Double, local: Bool) -> String {
        local ? "local: $0 (≈ \(Dollars.format(hourly))/h on AWS)" : "≈ \(Dollars.format(hourly))/h"
    }
}

/// A budget a run must stay within, from `--max-hourly-cost` or the recipe's `budget:`.
public struct CostBudget: Sendable, Equatable {
    public var maxHourlyCost: Double
    /// Where it was set: `--max-hourly-cost` or `recipes/x.yaml:4:20`.
    public var origin: String

    public init(maxHourlyCost: Double, origin: String) {
        self.maxHourlyCost = maxHourlyCost
        self.origin = origin
    }

    /// The command line's budget, else the recipe's.
    public static func effective(option: Double?, recipe: Recipe) -> CostBudget? {
        if let option { return CostBudget(maxHourlyCost: option, origin: "--max-hourly-cost") }
        guard let b = recipe.budget else { return nil }
        return CostBudget(maxHourlyCost: b.maxHourlyCost, origin: "budget.max_hourly_cost at \(b.position(recipe: recipe.path))")
    }

    /// How a run's endpoints compare with the budget.
    public enum Verdict: Sendable, Equatable {
        case within(hourly: Double)
        case over(hourly: Double)
        /// An endpoint's cost is unknown before the run, so the budget cannot be checked.
        case unchecked(EndpointCost)
    }

    public func verdict(_ costs: [EndpointCost]) -> Verdict {
        if let u = costs.first(where: { $0.quote == nil }) { return .unchecked(u) }
        let total = EndpointCosts.hourly(costs)
        return total > maxHourlyCost + 1e-9 ? .over(hourly: total) : .within(hourly: total)
    }

    /// `$10/h (--max-hourly-cost)`.
    public var limit: String { "\(Dollars.format(maxHourlyCost))/h (\(origin))" }

    /// One line: `within $10/h (…)`, `≈ $20.36/h (estimate) is over $10/h (…)`, or why it cannot be checked.
    public func summary(_ costs: [EndpointCost]) -> String {
        switch verdict(costs) {
        case .within(let h): "≈ \(Dollars.format(h))/h (estimate), within \(limit)"
        case .over(let h): "≈ \(Dollars.format(h))/h (estimate), over \(limit)"
        case .unchecked(let u): "cannot be checked against \(limit): step '\(u.step)' creates an endpoint whose \(u.summary)"
        }
    }

    /// Why the run must not start (endpoints over the budget, or one whose cost is unknown: a budget that cannot be
    /// checked is not kept), with each endpoint and what to do; nil when the run fits.
    public func refusal(_ costs: [EndpointCost]) -> String? {
        switch verdict(costs) {
        case .within: return nil
        case .unchecked: return summary(costs) + "; set its instance type from a param, or drop the budget"
        case .over:
            let lines = costs.map { "  \($0.step): \($0.summary)" }.joined(separator: "\n")
            return "the run's endpoints would cost \(summary(costs)):\n\(lines)\n"
                + "pick a smaller instance type (-p instance_type=…) or raise the budget (\(EndpointCosts.basis(regions: costs.map(\.region))))"
        }
    }
}
