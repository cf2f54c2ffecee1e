public import Foundation

/// What sous knows about a SageMaker real-time inference instance type: its on-demand price and its memory.
///
/// Two tables, kept side by side so that a type is priced and sized from the same row:
///
/// - **Price** (USD per instance-hour, on demand, SageMaker real-time inference "Hosting", us-east-1): from
///   aws-samples/foundation-model-benchmarking-tool, `fmbench/configs/pricing_fallback.yml` (added 2024-12-01, last
///   changed 2025-01-26; AWS's benchmarking tool, whose figures come from the AWS Price List API for
///   `AmazonSageMaker` Hosting in us-east-1). Cross-checked against the us-east-1 figures this repository already
///   quoted for ml.g5.2xlarge, ml.g5.12xlarge and ml.g5.48xlarge (1.52, 7.09, 20.36).
/// - **Memory** (accelerators, accelerator memory, instance memory): the instance families' published
///   specifications on https://aws.amazon.com/ec2/instance-types/ (accelerated computing: G4dn NVIDIA T4 16 GB,
///   G5 NVIDIA A10G 24 GB, G6 NVIDIA L4 24 GB, P3 NVIDIA V100 16 GB, P4d NVIDIA A100 40 GB, P5 NVIDIA H100 80 GB,
///   Inf2 AWS Inferentia2 32 GB, Trn1 AWS Trainium 32 GB).
///
/// Every price shown from this table is an **estimate**: list prices change, other regions differ (no other
/// region's figures are in the table, so elsewhere the us-east-1 price is shown and says so, unless `sous prices
/// update` cached the region's own prices from the AWS Price List: ``SageMakerPriceQuote``), and savings plans,
/// storage and data transfer are not included. Types without a published figure found when the table was made are
/// left out rather than guessed (among them ml.p3.8xlarge, ml.p3.16xlarge, ml.g6.xlarge, ml.g6.4xlarge,
/// ml.g6.8xlarge, ml.p4de, ml.p5e, ml.g6e, and most CPU sizes). A search of public repositories and pages on 2026-12-05
/// found no more real-time hosting figures traceable to AWS (those found disagree with each other, or are notebook or
/// EC2 prices), so none were added: `sous prices update` caches a region's prices from AWS's own Price List instead
/// (``SageMakerPriceList``), which quotes use first.
public struct SageMakerInstanceType: Sendable, Equatable {
    /// `ml.g5.2xlarge`.
    public var name: String
    /// The accelerator (`NVIDIA A10G`), or nil for a CPU-only type.
    public var accelerator: String?
    /// How many accelerators (GPUs, Inferentia or Trainium chips).
    public var acceleratorCount: Int
    /// Memory per accelerator, GiB.
    public var acceleratorMemoryGiB: Double
    /// The instance's own memory, GiB.
    public var memoryGiB: Double
    /// On-demand USD per instance-hour in us-east-1.
    public var usEast1Hourly: Double

    /// Whether the accelerators are NVIDIA GPUs (what the TGI and LMI GPU containers need).
    public var isGPU: Bool { accelerator?.hasPrefix("NVIDIA") ?? false }

    /// Accelerator memory in total, GiB (0 for a CPU-only type).
    public var totalAcceleratorMemoryGiB: Double { Double(acceleratorCount) * acceleratorMemoryGiB }

    /// "4 × NVIDIA A10G, 96 GiB" or "CPU only, 16 GiB".
    public var hardware: String {
        guard let accelerator else { return "CPU only, \(Self.gib(memoryGiB)) GiB" }
        return "\(acceleratorCount) × \(accelerator), \(Self.gib(totalAcceleratorMemoryGiB)) GiB"
    }

    /// `96`, `61`, `0.5`: GiB as the table prints them.
    public static func gib(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v) }
}

extension SageMakerInstanceType {
    /// Where the prices come from (shown with every estimate in docs and `--help`).
    public static let priceSource =
        "SageMaker real-time inference on-demand list prices, us-east-1 (aws-samples/foundation-model-benchmarking-tool pricing_fallback.yml, 2025-01-26)"
    /// The date of the price table.
    public static let priceDate = "2025-01-26"
    /// The one region the table holds prices for.
    public static let pricedRegion = "us-east-1"

    private static func t(
        _ name: String, _ accelerator: String?, _ count: Int, _ perAccelerator: Double, _ memory: Double, _ price: Double
    ) -> SageMakerInstanceType {
        SageMakerInstanceType(
            name: name, accelerator: accelerator, acceleratorCount: count, acceleratorMemoryGiB: perAccelerator,
            memoryGiB: memory, usEast1Hourly: price)
    }

    static let t4 = "NVIDIA T4", a10g = "NVIDIA A10G", l4 = "NVIDIA L4", v100 = "NVIDIA V100", a100 = "NVIDIA A100"
    static let h100 = "NVIDIA H100", inf2 = "AWS Inferentia2", trn1 = "AWS Trainium"

    /// The table (see the type's documentation for the sources).
    public static let all: [SageMakerInstanceType] = [
        // CPU
        t("ml.m5.xlarge", nil, 0, 0, 16, 0.23),
        t("ml.c5.xlarge", nil, 0, 0, 8, 0.204),
        t("ml.c5.2xlarge", nil, 0, 0, 16, 0.408),
        t("ml.c5.4xlarge", nil, 0, 0, 32, 0.816),
        t("ml.c7i.xlarge", nil, 0, 0, 8, 0.214),
        // G4dn: NVIDIA T4, 16 GB each
        t("ml.g4dn.xlarge", t4, 1, 16, 16, 0.7364),
        t("ml.g4dn.2xlarge", t4, 1, 16, 32, 0.94),
        t("ml.g4dn.4xlarge", t4, 1, 16, 64, 1.505),
        t("ml.g4dn.8xlarge", t4, 1, 16, 128, 2.72),
        t("ml.g4dn.12xlarge", t4, 4, 16, 192, 4.89),
        t("ml.g4dn.16xlarge", t4, 1, 16, 256, 5.44),
        // G5: NVIDIA A10G, 24 GB each
        t("ml.g5.xlarge", a10g, 1, 24, 16, 1.4084),
        t("ml.g5.2xlarge", a10g, 1, 24, 32, 1.515),
        t("ml.g5.4xlarge", a10g, 1, 24, 64, 2.03),
        t("ml.g5.8xlarge", a10g, 1, 24, 128, 3.06),
        t("ml.g5.12xlarge", a10g, 4, 24, 192, 7.09),
        t("ml.g5.24xlarge", a10g, 4, 24, 384, 10.18),
        t("ml.g5.48xlarge", a10g, 8, 24, 768, 20.36),
        // G6: NVIDIA L4, 24 GB each
        t("ml.g6.2xlarge", l4, 1, 24, 32, 1.222),
        t("ml.g6.12xlarge", l4, 4, 24, 192, 5.752),
        t("ml.g6.16xlarge", l4, 1, 24, 256, 4.246),
        t("ml.g6.24xlarge", l4, 4, 24, 384, 8.344),
        t("ml.g6.48xlarge", l4, 8, 24, 768, 16.688),
        // P3, P4d, P5
        t("ml.p3.2xlarge", v100, 1, 16, 61, 3.825),
        t("ml.p4d.24xlarge", a100, 8, 40, 1152, 37.688),
        t("ml.p5.48xlarge", h100, 8, 80, 2048, 113.068),
        // Inf2: AWS Inferentia2, 32 GB each; Trn1: AWS Trainium, 32 GB each
        t("ml.inf2.xlarge", inf2, 1, 32, 16, 0.99),
        t("ml.inf2.8xlarge", inf2, 1, 32, 128, 2.36),
        t("ml.inf2.24xlarge", inf2, 6, 32, 384, 7.79),
        t("ml.inf2.48xlarge", inf2, 12, 32, 768, 15.58),
        t("ml.trn1.32xlarge", trn1, 16, 32, 512, 28.497),
    ]

    private static let byName: [String: SageMakerInstanceType] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The row for `name` (`ml.g5.2xlarge`), or nil when the table does not know it.
    public static func named(_ name: String) -> SageMakerInstanceType? { byName[name] }

    /// The table's types closest to `name`, for a "did you mean" (same family first, then by edit distance).
    public static func suggestions(for name: String, limit: Int = 3) -> [String] {
        let family = name.split(separator: ".").dropFirst().first.map(String.init)
        let scored = all.map { t -> (Int, String) in
            let sameFamily = family != nil && t.name.split(separator: ".").dropFirst().first.map(String.init) == family
            return (editDistance(name, t.name) - (sameFamily ? 100 : 0), t.name)
        }
        return scored.sorted { $0 < $1 }.prefix(limit).map(\.1)
    }

    /// The cheapest GPU types of the table whose GPU memory holds `gib`, cheapest first.
    public static func cheapestHolding(gib: Double, limit: Int = 2) -> [SageMakerInstanceType] {
        all.filter { $0.isGPU && $0.totalAcceleratorMemoryGiB >= gib }
            .sorted { $0.usEast1Hourly < $1.usEast1Hourly }.prefix(limit).map { $0 }
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
        var row = Array(0...y.count)
        for i in 1...x.count {
            var diagonal = row[0]
            row[0] = i
            for j in 1...y.count {
                let above = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, diagonal + (x[i - 1] == y[j - 1] ? 0 : 1))
                diagonal = above
            }
        }
        return row[y.count]
    }
}

/// An hourly price for `count` instances of a type in a region: from the region's cached AWS Price List
/// (``SageMakerPriceList``, `sous prices update`) when it has the type, else from ``SageMakerInstanceType``'s
/// built-in table (us-east-1 prices, standing in for other regions and saying so). Always an estimate.
public struct SageMakerPriceQuote: Sendable, Equatable {
    /// Where the price comes from.
    public enum Source: Sendable, Equatable {
        /// The region's cached AWS Price List (its region and publication date).
        case priceList(region: String, published: String)
        /// The built-in table, for us-east-1.
        case table
        /// The built-in table's us-east-1 price standing in for another region.
        case tableFallback
    }

    public var instanceType: String
    public var count: Int
    public var region: String
    /// USD per hour for all `count` instances.
    public var hourly: Double
    public var source: Source

    /// True when the us-east-1 price of the built-in table stands in for another region.
    public var regionFallback: Bool { source == .tableFallback }

    /// The quote, or nil when neither the region's cached price list nor the built-in table knows the type.
    /// - Parameter environment: where the price cache is (`XDG_CACHE_HOME`, `HOME`).
    public init?(instanceType: String, count: Int = 1, region: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        let unit: Double
        if let list = SageMakerPriceList.cached(region: region, environment: environment), let p = list.hourly[instanceType] {
            unit = p
            source = .priceList(region: list.region, published: list.publicationDay)
        } else if let t = SageMakerInstanceType.named(instanceType) {
            unit = t.usEast1Hourly
            source = region == SageMakerInstanceType.pricedRegion ? .table : .tableFallback
        } else {
            return nil
        }
        self.instanceType = instanceType
        self.count = max(1, count)
        self.region = region
        hourly = unit * Double(self.count)
    }

    /// The cost of running for `seconds`.
    public func cost(forSeconds seconds: Double) -> Double { hourly * max(0, seconds) / 3600 }

    /// What the estimate is based on: "us-east-1 list price", "us-east-1 list price; eu-west-1 differs", or
    /// "AWS Price List for eu-west-1, published 2025-06-12".
    public var basis: String {
        switch source {
        case .priceList(let r, let d): "AWS Price List for \(r), published \(d)"
        case .table: "us-east-1 list price"
        case .tableFallback: "us-east-1 list price; \(region) differs"
        }
    }

    /// What a price line adds after "estimate": nil for the built-in table's own region (the footnote says it),
    /// else ``basis``.
    public var note: String? { source == .table ? nil : basis }
}

/// Money as sous prints it: list prices keep their third decimal (`$1.515`, `$7.09`, `$113.068`), amounts below a
/// cent get four (`$0.0042`), less than that is `<$0.0001`, zero is `$0`.
public enum Dollars {
    public static func format(_ v: Double) -> String {
        if v == 0 { return "$0" }
        if v > 0 && v < 0.0001 { return "<$0.0001" }
        if abs(v) < 0.01 { return String(format: "$%.4f", v) }
        var s = String(format: "%.3f", v)
        if s.hasSuffix("0") { s.removeLast() }
        return "$" + s
    }

    /// An estimate: `≈ $0.077`, or `< $0.0001` for less.
    public static func approx(_ v: Double) -> String { v > 0 && v < 0.0001 ? "< $0.0001" : "≈ " + format(v) }
}
