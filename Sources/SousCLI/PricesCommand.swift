import ArgumentParser
import Foundation
import SousAWS
import SousRecipe

/// `sous prices`: the SageMaker real-time inference prices sous estimates with, and `sous prices update`, which caches
/// a region's prices from AWS's public Price List.
struct PricesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prices",
        abstract: "Show the SageMaker real-time inference prices sous estimates costs with; `sous prices update` fetches a region's from AWS.",
        discussion: """
            Prices are on-demand USD per instance-hour, always an estimate (savings plans, storage and data transfer \
            are not included). For a region whose AWS Price List `sous prices update` cached, its prices are used \
            (and their publication date shown); otherwise sous's built-in table (us-east-1 list prices, with its \
            source and date), which other regions show as "us-east-1 list price; REGION differs"; a type in neither \
            has no price. The cache is $XDG_CACHE_HOME/sous/prices/REGION.json (default ~/.cache/sous/prices). \
            $SOUS_PRICE_LIST_URL replaces https://pricing.us-east-1.amazonaws.com (a mirror).
            """,
        subcommands: [PricesShowCommand.self, PricesUpdateCommand.self], defaultSubcommand: PricesShowCommand.self)

    /// The region when none is given: AWS_REGION / AWS_DEFAULT_REGION / the profile's, else us-east-1.
    static func defaultRegion() -> String {
        (try? AWSConfiguration(environment: ProcessInfo.processInfo.environment))?.region ?? SageMakerInstanceType.pricedRegion
    }
}

struct PricesShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "List instance types with their hardware and hourly price in a region, and where each price comes from.")

    @Option(help: "The region (default: AWS_REGION or the profile's, else us-east-1).")
    var region: String?
    @Flag(name: .long, help: "Every type of the region's cached price list, not only those of the built-in table.")
    var all = false
    @Flag(name: .long, help: "JSON output.")
    var json = false
    @Argument(help: ArgumentHelp("Only these instance types (ml.g5.2xlarge …).", valueName: "instance-type"))
    var types: [String] = []

    func validate() throws {
        if let region, !SageMakerPriceList.isRegionName(region) { throw ValidationError("'\(region)' is not an AWS region name (like us-east-1)") }
    }

    func run() async throws {
        let region = self.region ?? PricesCommand.defaultRegion()
        let env = ProcessInfo.processInfo.environment
        let path = SageMakerPriceList.cachePath(region: region, environment: env)
        var cacheProblem: String?
        let list: SageMakerPriceList?
        if FileManager.default.fileExists(atPath: path) {
            do { list = try SageMakerPriceList.load(path: path) } catch {
                list = nil
                cacheProblem = String(describing: error)
            }
        } else {
            list = nil
        }
        var names = types
        if names.isEmpty {
            names = SageMakerInstanceType.all.map(\.name)
            if all, let list { names += list.hourly.keys.filter { SageMakerInstanceType.named($0) == nil }.sorted() }
        }
        let rows = names.map { name in (name, SageMakerInstanceType.named(name), SageMakerPriceQuote(instanceType: name, region: region)) }
        if json {
            let out = Value.map([
                "region": .string(region), "estimate": .bool(true),
                "price_list": list.map { l in
                    .map(["published": .string(l.publicationDate), "version": .string(l.version), "source": .string(l.source), "cache": .string(path)])
                } ?? .null,
                "table": .string(SageMakerInstanceType.priceSource),
                "prices": .list(rows.map { name, t, q in
                    .map([
                        "instance_type": .string(name), "hardware": t.map { .string($0.hardware) } ?? .null,
                        "hourly_usd": q.map { .number($0.hourly) } ?? .null, "basis": q.map { .string($0.basis) } ?? .null,
                    ])
                }),
            ])
            Console.out(out.jsonString(pretty: true) + "\n")
            return
        }
        Console.out("SageMaker real-time inference, on demand, USD per instance-hour in \(region) (estimates)\n")
        if let list {
            Console.out("prices: \(list.basis) (cached in \(path)); types it lacks: \(SageMakerInstanceType.priceSource)\n")
        } else {
            Console.out("prices: \(SageMakerInstanceType.priceSource)\n")
            if let cacheProblem { Console.err("warning: \(cacheProblem)\n") }
            if region != SageMakerInstanceType.pricedRegion {
                Console.out("        \(region) differs: `sous prices update --region \(region)` fetches its prices from the AWS Price List\n")
            }
        }
        let width = (rows.map(\.0.count).max() ?? 0) + 2
        for (name, t, q) in rows {
            let hw = (t?.hardware ?? "").padding(toLength: 26, withPad: " ", startingAt: 0)
            let price = q.map { "≈ \(Dollars.format($0.hourly))/h" + ($0.note.map { "  (\($0))" } ?? "") } ?? "no price (in neither the built-in table nor a cached price list)"
            Console.out("  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + hw + "  " + price + "\n")
        }
    }
}

struct PricesUpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Download a region's SageMaker prices from the public AWS Price List (no credentials) and cache them for plan, status and run.",
        discussion: """
            Fetches https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/REGION/index.json \
            (the AWS Price List bulk offer file; tens of megabytes, 1 GiB at most), keeps the on-demand hourly price \
            of each real-time hosting instance type (usage type …-Host:ml.*) with the file's publication date, and \
            writes $XDG_CACHE_HOME/sous/prices/REGION.json (default ~/.cache/sous/prices). $SOUS_PRICE_LIST_URL \
            replaces https://pricing.us-east-1.amazonaws.com.
            """)

    @Option(
        name: .customLong("region"),
        help: ArgumentHelp("A region to fetch (repeat it, or separate with commas; default: AWS_REGION or the profile's, else us-east-1).", valueName: "region"))
    var regions: [String] = []

    var regionList: [String] {
        let list = regions.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        return list.isEmpty ? [PricesCommand.defaultRegion()] : list
    }

    func validate() throws {
        for r in regionList where !SageMakerPriceList.isRegionName(r) { throw ValidationError("'\(r)' is not an AWS region name (like us-east-1)") }
    }

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        var failed = 0
        for region in regionList {
            do {
                let (list, path) = try await SageMakerPriceList.update(region: region, environment: env)
                Console.out("\(region): \(list.hourly.count) instance types, \(list.basis) (version \(list.version)), cached in \(path)\n")
            } catch {
                failed += 1
                Console.err("error: \(region): \(error)\n")
            }
        }
        if failed > 0 { throw ExitStatus.stepFailed }
    }
}
