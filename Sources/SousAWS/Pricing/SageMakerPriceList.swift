public import Foundation
public import SousHTTP
import Synchronization

/// SageMaker real-time inference ("Hosting") on-demand prices of one region, read from AWS's own public Price List:
/// the bulk offer file of `AmazonSageMaker` for the region
/// (`https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/<region>/index.json`, no
/// credentials needed). `sous prices update` downloads it and keeps what sous needs in the cache
/// (``SageMakerPriceList/cacheDirectory(environment:)``); quotes use it before the built-in table.
///
/// What is read from the offer file: every product whose `usagetype` is `<REGION CODE>-Host:<instance type>` (real-time
/// hosting; `platoinstancetype`/`component` `Hosting` when present, `regionCode` the region when present), and its
/// on-demand term's price dimension in `Hrs` (`pricePerUnit.USD`); with the file's `publicationDate`.
public struct SageMakerPriceList: Sendable, Codable, Equatable {
    public var region: String
    /// The offer file's `publicationDate` (`2025-06-12T17:21:12Z`).
    public var publicationDate: String
    /// The offer file's `version`.
    public var version: String
    /// Where it was downloaded from.
    public var source: String
    /// When sous downloaded it (ISO 8601).
    public var fetchedAt: String
    /// USD per instance-hour by instance type (`ml.g5.2xlarge`).
    public var hourly: [String: Double]

    public init(region: String, publicationDate: String, version: String, source: String, fetchedAt: String, hourly: [String: Double]) {
        self.region = region
        self.publicationDate = publicationDate
        self.version = version
        self.source = source
        self.fetchedAt = fetchedAt
        self.hourly = hourly
    }

    /// The publication day (`2025-06-12`).
    public var publicationDay: String { String(publicationDate.prefix(10)) }

    /// What a quote from it says: `AWS Price List for eu-west-1, published 2025-06-12`.
    public var basis: String { "AWS Price List for \(region), published \(publicationDay)" }
}

/// Why a price list could not be downloaded, read or cached.
public struct SageMakerPriceListError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension SageMakerPriceList {
    /// The variable that replaces `https://pricing.us-east-1.amazonaws.com` (a mirror, or a test server).
    public static let endpointVariable = "SOUS_PRICE_LIST_URL"
    public static let defaultEndpoint = "https://pricing.us-east-1.amazonaws.com"
    /// The most bytes downloaded for one region's offer file (AWS's are tens of megabytes).
    public static let maxDownloadBytes = 1 << 30

    /// `us-east-1`, `eu-west-1`, `ap-southeast-2`, `us-gov-west-1`: what may go into the URL and a file name.
    public static func isRegionName(_ s: String) -> Bool { s.wholeMatch(of: #/[a-z]{2}(-[a-z]+)+-[0-9]+/#) != nil }

    /// The offer file's URL for `region`.
    public static func offerURL(region: String, environment: [String: String]) throws -> URL {
        guard isRegionName(region) else { throw SageMakerPriceListError("'\(region)' is not an AWS region name (like us-east-1 or eu-west-1)") }
        var base = environment[endpointVariable].flatMap { $0.isEmpty ? nil : $0 } ?? defaultEndpoint
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: "\(base)/offers/v1.0/aws/AmazonSageMaker/current/\(region)/index.json"), url.scheme?.hasPrefix("http") == true
        else { throw SageMakerPriceListError("$\(endpointVariable) '\(base)' is not an http(s) URL") }
        return url
    }

    /// `$XDG_CACHE_HOME/sous/prices`, else `~/.cache/sous/prices`.
    public static func cacheDirectory(environment: [String: String]) -> String {
        if let x = environment["XDG_CACHE_HOME"], x.hasPrefix("/") { return x + "/sous/prices" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/sous/prices"
    }

    /// The cache file of `region`.
    public static func cachePath(region: String, environment: [String: String]) -> String {
        cacheDirectory(environment: environment) + "/\(region).json"
    }

    /// The regions with a cache file, sorted.
    public static func cachedRegions(environment: [String: String]) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory(environment: environment))) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.filter(isRegionName).sorted()
    }

    private static let memo = Mutex<[String: SageMakerPriceList?]>([:])

    /// The cached price list of `region`, or nil when there is none (or it cannot be read: quotes then use the
    /// built-in table, and `sous prices` says why).
    public static func cached(region: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> SageMakerPriceList? {
        guard isRegionName(region) else { return nil }
        let path = cachePath(region: region, environment: environment)
        if let hit = memo.withLock({ $0[path] }) { return hit }
        let list = try? load(path: path)
        memo.withLock { $0[path] = .some(list) }
        return list
    }

    /// Reads a cache file.
    public static func load(path: String) throws -> SageMakerPriceList {
        guard let data = FileManager.default.contents(atPath: path) else { throw SageMakerPriceListError("\(path): cannot be read") }
        do {
            return try JSONDecoder().decode(SageMakerPriceList.self, from: data)
        } catch {
            throw SageMakerPriceListError("\(path): not a sous price cache (\(error)); `sous prices update` rewrites it")
        }
    }

    /// Writes the cache file of its region (atomically).
    public func save(environment: [String: String]) throws -> String {
        let path = Self.cachePath(region: region, environment: environment)
        do {
            try FileManager.default.createDirectory(atPath: Self.cacheDirectory(environment: environment), withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw SageMakerPriceListError("cannot write the price cache \(path): \(error.localizedDescription)")
        }
        Self.memo.withLock { $0[path] = .some(self) }
        return path
    }

    /// Downloads the offer file of `region` (into a temporary file next to the cache, at most `maxBytes`), reads its
    /// hosting prices and caches them; returns the list and the cache path.
    public static func update(
        region: String, environment: [String: String], http: HTTPClient = .shared, maxBytes: Int = maxDownloadBytes
    ) async throws -> (list: SageMakerPriceList, path: String) {
        let url = try offerURL(region: region, environment: environment)
        let dir = cacheDirectory(environment: environment)
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw SageMakerPriceListError("cannot create the price cache folder \(dir): \(error.localizedDescription)")
        }
        let temp = dir + "/.\(region).offer-\(ProcessInfo.processInfo.processIdentifier).json"
        defer { try? FileManager.default.removeItem(atPath: temp) }
        try await download(url, to: temp, http: http, maxBytes: maxBytes, region: region)
        var list = try parse(offerFile: temp, region: region)
        list.source = url.absoluteString
        return (list, try list.save(environment: environment))
    }

    static func download(_ url: URL, to path: String, http: HTTPClient, maxBytes: Int, region: String) async throws {
        var request = HTTPRequest(url: url)
        request.followRedirects = true
        request.timeouts.total = .seconds(900)
        let response = try await http.stream(request)
        let status = response.head.status
        guard status == 200 else {
            let body = (try? await response.body.collect(upTo: 4096)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let excerpt = body.split(whereSeparator: \.isNewline).first.map { ": " + $0.prefix(200) } ?? ""
            let hint = status == 404 || status == 403 ? " (AWS publishes no SageMaker price list for \(region), or the region name is wrong)" : ""
            throw SageMakerPriceListError("GET \(url.absoluteString) answered HTTP \(status)\(excerpt)\(hint)")
        }
        if let length = response.head.headers["Content-Length"].flatMap({ Int($0) }), length > maxBytes {
            response.body.cancel()
            throw SageMakerPriceListError("\(url.absoluteString) is \(length) bytes, more than the \(maxBytes) sous reads for a price list")
        }
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            response.body.cancel()
            throw SageMakerPriceListError("cannot write \(path)")
        }
        defer { try? handle.close() }
        let written = Mutex(0)
        struct TooLarge: Error {}
        do {
            try await response.body.deliver { chunk in
                let total = written.withLock { $0 += chunk.count; return $0 }
                if total > maxBytes { throw TooLarge() }
                try handle.write(contentsOf: Data(chunk))
            }
        } catch is TooLarge {
            throw SageMakerPriceListError("\(url.absoluteString) sent more than the \(maxBytes) bytes sous reads for a price list")
        }
    }

    /// Reads the real-time hosting on-demand prices of `region` from an AmazonSageMaker offer file (memory-mapped,
    /// walked without building the document).
    public static func parse(offerFile path: String, region: String) throws -> SageMakerPriceList {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw SageMakerPriceListError("\(path): cannot be read (\(error.localizedDescription))")
        }
        var top: [String: String] = [:]
        var products: [String: (type: String?, component: String?, region: String?)] = [:]
        var dimensions: [String: (sku: String, unit: String?, usd: Double?)] = [:]
        let enter: JSONPathScanner.Enter = { p in
            switch p.count {
            case 0: return true
            case 1: return p[0] == "products" || p[0] == "terms"
            case 2: return p[0] == "products" || p[1] == "OnDemand"
            case 3: return p[0] == "products" ? p[2] == "attributes" : true
            case 4: return true
            case 5: return p[4] == "priceDimensions"
            case 6: return true
            case 7: return p[6] == "pricePerUnit"
            default: return false
            }
        }
        do {
            try data.withUnsafeBytes { bytes in
                try JSONPathScanner.scan(bytes, enter: enter) { p, v in
                    if p.count == 1 {
                        top[p[0]] = v
                    } else if p.count == 4, p[0] == "products", p[2] == "attributes" {
                        switch p[3] {
                        case "usagetype": products[p[1], default: (nil, nil, nil)].type = hostInstanceType(usageType: v)
                        case "platoinstancetype", "component": products[p[1], default: (nil, nil, nil)].component = v
                        case "regionCode": products[p[1], default: (nil, nil, nil)].region = v
                        default: break
                        }
                    } else if p.count == 7, p[0] == "terms", p[6] == "unit" {
                        dimensions[p[5], default: (p[2], nil, nil)].unit = v
                    } else if p.count == 8, p[0] == "terms", p[6] == "pricePerUnit", p[7] == "USD" {
                        dimensions[p[5], default: (p[2], nil, nil)].usd = Double(v)
                    }
                }
            }
        } catch let e as JSONPathScanner.SyntaxError {
            throw SageMakerPriceListError("\(path): byte \(e.offset): \(e.message); not an AWS Price List offer file")
        }
        guard top["offerCode"] == "AmazonSageMaker" else {
            throw SageMakerPriceListError("\(path): offerCode is \(top["offerCode"].map { "'\($0)'" } ?? "missing"), not AmazonSageMaker")
        }
        var hourly: [String: Double] = [:]
        for d in dimensions.values {
            guard let unit = d.unit, ["hrs", "hours"].contains(unit.lowercased()), let usd = d.usd, usd > 0, let p = products[d.sku],
                let type = p.type, p.component.map({ $0 == "Hosting" }) ?? true, p.region.map({ $0 == region }) ?? true
            else { continue }
            hourly[type] = max(hourly[type] ?? 0, usd)  // more than one: the highest (an estimate errs high)
        }
        guard !hourly.isEmpty else {
            throw SageMakerPriceListError("\(path) holds no on-demand real-time hosting price (usage type …-Host:ml.*) for \(region)")
        }
        return SageMakerPriceList(
            region: region, publicationDate: top["publicationDate"] ?? "", version: top["version"] ?? "", source: path,
            fetchedAt: ISO8601DateFormatter().string(from: Date()), hourly: hourly)
    }

    /// `ml.g5.xlarge` from `USE1-Host:ml.g5.xlarge` (or `Host:ml.g5.xlarge`); nil for any other usage type.
    static func hostInstanceType(usageType u: String) -> String? {
        guard let r = u.range(of: "Host:ml."), r.lowerBound == u.startIndex || u[u.index(before: r.lowerBound)] == "-" else { return nil }
        let type = "ml." + u[r.upperBound...]
        return type.contains(":") || type.contains(" ") ? nil : type
    }
}
