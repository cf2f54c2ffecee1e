public import Foundation
public import SousAWS
public import SousEngine
public import SousRecipe

/// The instances an endpoint runs on and what they cost: recorded in the endpoint's ledger attributes when it is
/// created, read back by the live wait line, the run recap, `sous status` and `sous gc`.
public struct EndpointBilling: Sendable, Equatable {
    public var instanceType: String
    public var count: Int
    public var region: String
    /// On the local cloud (costs nothing; priced at the AWS type for comparison).
    public var local: Bool

    public init(instanceType: String, count: Int, region: String, local: Bool) {
        self.instanceType = instanceType
        self.count = max(1, count)
        self.region = region
        self.local = local
    }

    /// From an endpoint's (or endpoint config's) ledger attributes; nil when they hold no instance type (an entry
    /// written before sous recorded it).
    public init?(attributes: ValueMap) {
        guard let t = attributes["instance_type"]?.stringValue, !t.isEmpty else { return nil }
        self.init(
            instanceType: t, count: attributes["instance_count"]?.intValue ?? 1, region: attributes["region"]?.stringValue ?? "us-east-1",
            local: attributes["local"]?.boolValue ?? false)
    }

    /// What goes into the ledger attributes.
    public var attributes: ValueMap {
        ["instance_type": .string(instanceType), "instance_count": .int(count), "local": .bool(local)]
    }

    /// The AWS price (nil when the type is not in the table).
    public var quote: SageMakerPriceQuote? { SageMakerPriceQuote(instanceType: instanceType, count: count, region: region) }

    /// What it costs on AWS per hour; 0 when unknown.
    public var awsHourly: Double { quote?.hourly ?? 0 }
    /// What it really costs per hour: 0 on the local cloud.
    public var hourly: Double { local ? 0 : awsHourly }

    /// `ml.g5.2xlarge × 1 ≈ $1.515/h (estimate)` (with the quote's ``SageMakerPriceQuote/note``: `(estimate; AWS Price List
    /// for eu-west-1, published 2025-06-12)`), `… local: $0 (≈ $1.515/h on AWS)`, or `… (not in the price table)`.
    public var rate: String {
        let what = "\(instanceType) × \(count)"
        guard let q = quote else { return "\(what) (cost unknown: not in the price table)" }
        let note = q.note.map { "; " + $0 } ?? ""
        return local ? "\(what), \(EndpointCosts.rate(q.hourly, local: true))" : "\(what) \(EndpointCosts.rate(q.hourly, local: false)) (estimate\(note))"
    }

    /// The cost of `seconds` of running: `≈ $0.077` (`$0` locally, `?` when unknown).
    public func costSoFar(_ seconds: Double) -> String {
        if local { return "$0" }
        guard let q = quote else { return "?" }
        return Dollars.approx(q.cost(forSeconds: seconds))
    }

    /// The live line while an endpoint is being created and waited for.
    public func running(for seconds: Double) -> String {
        "\(rate), \(costSoFar(seconds)) so far"
    }
}

/// An endpoint as a recipe's ledger records it: what it runs on, since when, and when its time to live ends.
public struct LedgerEndpoint: Sendable, Equatable {
    public var name: String
    /// Not deleted (as far as the ledger knows).
    public var live: Bool
    public var billing: EndpointBilling?
    /// When it was created (billing starts), else when the ledger recorded it.
    public var createdAt: Date
    /// When the ledger recorded it deleted.
    public var deletedAt: Date?
    /// When its time-to-live schedule deletes it, if it has one.
    public var deleteAt: Date?
    public var region: String?
    /// The step that created it.
    public var step: String

    /// The endpoints among `entries` (a ledger's, latest state of each), oldest first.
    public static func read(_ entries: [LedgerEntry]) -> [LedgerEndpoint] {
        let live = entries.filter { $0.state != .deleted }
        let configs = Dictionary(entries.filter { $0.type == "sagemaker.endpoint-config" }.map { ($0.name, $0) }, uniquingKeysWith: { _, b in b })
        return entries.filter { $0.type == "sagemaker.endpoint" && $0.state != .intent }.map { e in
            let config = e.attributes["config"]?.stringValue.flatMap { configs[$0] }
            var billing = EndpointBilling(attributes: e.attributes) ?? config.flatMap { EndpointBilling(attributes: $0.attributes) }
            if let r = e.attributes["region"]?.stringValue { billing?.region = r }
            let created = e.attributes["created_at"]?.stringValue.flatMap { ISO8601DateFormatter().date(from: $0) } ?? e.at
            return LedgerEndpoint(
                name: e.name, live: e.state == .created, billing: billing, createdAt: created, deletedAt: e.state == .deleted ? e.at : nil,
                deleteAt: e.state == .created ? EndpointTTL.deadline(of: e.name, in: live) : nil, region: e.attributes["region"]?.stringValue,
                step: e.step)
        }
    }

    /// How long it has run (until it was deleted, or until `now`).
    public func seconds(now: Date = Date()) -> Double { max(0, (deletedAt ?? now).timeIntervalSince(createdAt)) }
}
