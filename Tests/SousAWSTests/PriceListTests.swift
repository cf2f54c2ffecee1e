import Foundation
import SousHTTP
import SousTestSupport
import Testing

@testable import SousAWS

/// `SageMakerPriceList`: reading real-time hosting prices from an AWS Price List offer file for AmazonSageMaker, the
/// cache, and the download from a test server on 127.0.0.1 (never AWS).
@Suite struct PriceListTests {
    static func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sous-prices-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("the real-time hosting on-demand hourly prices of the region are read; training, notebook, other regions, reserved terms and other units are not")
    func parsesHostingPrices() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("index.json").path
        try PriceListOffer.file().write(toFile: path, atomically: true, encoding: .utf8)
        let list = try SageMakerPriceList.parse(offerFile: path, region: "eu-west-1")
        #expect(list.hourly == ["ml.g5.2xlarge": 9.8765, "ml.m5.xlarge": 0.5])
        #expect(list.publicationDate == "2025-06-12T17:21:12Z" && list.publicationDay == "2025-06-12" && list.version == "20250612172112")
        #expect(list.basis == "AWS Price List for eu-west-1, published 2025-06-12")
        #expect(SageMakerPriceList.hostInstanceType(usageType: "USE1-Host:ml.g5.xlarge") == "ml.g5.xlarge")
        #expect(SageMakerPriceList.hostInstanceType(usageType: "USE1-Train:ml.g5.xlarge") == nil)
        #expect(SageMakerPriceList.hostInstanceType(usageType: "USE1-AsyncHost:ml.g5.xlarge") == nil)
    }

    @Test("a file that is not JSON, not the SageMaker offer, or holds no hosting price is refused, saying where and why")
    func refusesWrongFiles() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("index.json").path
        func error(_ text: String, region: String = "eu-west-1") throws -> String {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try SageMakerPriceList.parse(offerFile: path, region: region)
                return "parsed"
            } catch { return String(describing: error) }
        }
        #expect(try error(#"{"offerCode": "AmazonSageMaker", "products": {"A": {"x" 1}}}"#) == "\(path): byte 56: expected ':'; not an AWS Price List offer file")
        #expect(try error(PriceListOffer.file(offerCode: "AmazonEC2")) == "\(path): offerCode is 'AmazonEC2', not AmazonSageMaker")
        #expect(try error(PriceListOffer.file(), region: "ap-south-1") == "\(path) holds no on-demand real-time hosting price (usage type …-Host:ml.*) for ap-south-1")
    }

    @Test("a cached price list is what quotes use for its region, with its date; other types and regions use the built-in table")
    func quotesUseTheCache() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["XDG_CACHE_HOME": dir.path, "HOME": "/nonexistent"]
        #expect(SageMakerPriceList.cacheDirectory(environment: env) == dir.path + "/sous/prices")
        #expect(SageMakerPriceList.cacheDirectory(environment: ["HOME": "/home/u"]) == "/home/u/.cache/sous/prices")
        let offer = dir.appendingPathComponent("index.json").path
        try PriceListOffer.file().write(toFile: offer, atomically: true, encoding: .utf8)
        let path = try SageMakerPriceList.parse(offerFile: offer, region: "eu-west-1").save(environment: env)
        #expect(path == dir.path + "/sous/prices/eu-west-1.json")
        #expect(try SageMakerPriceList.load(path: path).hourly["ml.g5.2xlarge"] == 9.8765)

        let q = try #require(SageMakerPriceQuote(instanceType: "ml.g5.2xlarge", count: 2, region: "eu-west-1", environment: env))
        #expect(q.hourly == 2 * 9.8765 && q.source == .priceList(region: "eu-west-1", published: "2025-06-12") && !q.regionFallback)
        #expect(q.note == "AWS Price List for eu-west-1, published 2025-06-12")
        // A type the cached list lacks: the built-in us-east-1 price, saying the region differs.
        let table = try #require(SageMakerPriceQuote(instanceType: "ml.g5.12xlarge", region: "eu-west-1", environment: env))
        #expect(table.hourly == 7.09 && table.regionFallback && table.note == "us-east-1 list price; eu-west-1 differs")
        // A region without a cache; and a type in neither.
        let us = try #require(SageMakerPriceQuote(instanceType: "ml.g5.2xlarge", region: "us-east-1", environment: env))
        #expect(us.hourly == 1.515 && us.source == .table && us.note == nil)
        #expect(SageMakerPriceQuote(instanceType: "ml.g9.mega", region: "eu-west-1", environment: env) == nil)
        // A cache that cannot be read is not used (and says why when loaded).
        try "not json".write(toFile: SageMakerPriceList.cachePath(region: "eu-central-1", environment: env), atomically: true, encoding: .utf8)
        #expect(SageMakerPriceList.cached(region: "eu-central-1", environment: env) == nil)
        #expect(throws: SageMakerPriceListError.self) { try SageMakerPriceList.load(path: SageMakerPriceList.cachePath(region: "eu-central-1", environment: env)) }
    }

    @Test("sous prices update's download: the region's offer file from $SOUS_PRICE_LIST_URL, cached; HTTP errors and the size cap say so")
    func downloadsFromTheEndpoint() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try PriceListOffer.serve(in: dir)
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let env = ["XDG_CACHE_HOME": dir.appendingPathComponent("cache").path, SageMakerPriceList.endpointVariable: base + "/"]
        #expect(try SageMakerPriceList.offerURL(region: "eu-west-1", environment: [:]).absoluteString
            == "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/eu-west-1/index.json")

        let (list, path) = try await SageMakerPriceList.update(region: "eu-west-1", environment: env)
        #expect(list.hourly == ["ml.g5.2xlarge": 9.8765, "ml.m5.xlarge": 0.5])
        #expect(list.source == base + "/offers/v1.0/aws/AmazonSageMaker/current/eu-west-1/index.json")
        #expect(try SageMakerPriceList.load(path: path) == list)
        let requests = try String(contentsOf: dir.appendingPathComponent("served/requests.log"), encoding: .utf8)
        #expect(requests == "GET /offers/v1.0/aws/AmazonSageMaker/current/eu-west-1/index.json\n")
        // Only the cache file is left in the cache folder (the download went to a temporary file).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache/sous/prices").path) == ["eu-west-1.json"])

        await #expect(throws: SageMakerPriceListError("GET \(base)/offers/v1.0/aws/AmazonSageMaker/current/eu-north-1/index.json answered HTTP 404: <!DOCTYPE HTML> (AWS publishes no SageMaker price list for eu-north-1, or the region name is wrong)")) {
            _ = try await SageMakerPriceList.update(region: "eu-north-1", environment: env)
        }
        await #expect(throws: SageMakerPriceListError("\(base)/offers/v1.0/aws/AmazonSageMaker/current/eu-west-1/index.json is \(PriceListOffer.file().utf8.count) bytes, more than the 1000 sous reads for a price list")) {
            _ = try await SageMakerPriceList.update(region: "eu-west-1", environment: env, maxBytes: 1000)
        }
        #expect(throws: SageMakerPriceListError("'../etc' is not an AWS region name (like us-east-1 or eu-west-1)")) {
            _ = try SageMakerPriceList.offerURL(region: "../etc", environment: env)
        }
    }
}
