public import Foundation

/// The AWS Price List offer file the pricing tests serve and read.
public enum PriceListOffer {
    /// A small AmazonSageMaker offer file in the Price List bulk format (the prices are made up for the test, not AWS's).
    /// It holds, for eu-west-1: two hosting products (one in the `USE1-`-less form), a training product and a notebook
    /// product of the same type (other usage types: ignored), a hosting product of another region, a reserved term
    /// (ignored), a hosting product priced in a unit other than hours (ignored), and a description with escapes.
    public static func file(region: String = "eu-west-1", offerCode: String = "AmazonSageMaker") -> String {
        func product(_ sku: String, usage: String, type: String, plato: String, region: String) -> String {
            """
                "\(sku)" : {
                  "sku" : "\(sku)",
                  "productFamily" : "ML Instance",
                  "attributes" : {
                    "servicecode" : "AmazonSageMaker",
                    "location" : "EU (Ireland)",
                    "locationType" : "AWS Region",
                    "instanceType" : "\(type)",
                    "usagetype" : "\(usage)",
                    "operation" : "RunInstance",
                    "platoinstancetype" : "\(plato)",
                    "regionCode" : "\(region)",
                    "servicename" : "Amazon SageMaker"
                  }
                }
            """
        }
        func onDemand(_ sku: String, usd: String, unit: String = "Hrs") -> String {
            """
                "\(sku)" : {
                  "\(sku).JRTCKXETXF" : {
                    "offerTermCode" : "JRTCKXETXF",
                    "sku" : "\(sku)",
                    "effectiveDate" : "2025-06-01T00:00:00Z",
                    "priceDimensions" : {
                      "\(sku).JRTCKXETXF.6YS6EN2CT7" : {
                        "rateCode" : "\(sku).JRTCKXETXF.6YS6EN2CT7",
                        "description" : "$\(usd) per \\"On Demand\\" hour [test] {not AWS's}",
                        "beginRange" : "0",
                        "endRange" : "Inf",
                        "unit" : "\(unit)",
                        "pricePerUnit" : {
                          "USD" : "\(usd)"
                        },
                        "appliesTo" : [ ]
                      }
                    },
                    "termAttributes" : { }
                  }
                }
            """
        }
        return """
            {
              "formatVersion" : "v1.0",
              "disclaimer" : "This pricing list is for informational purposes only.",
              "offerCode" : "\(offerCode)",
              "version" : "20250612172112",
              "publicationDate" : "2025-06-12T17:21:12Z",
              "products" : {
            \([
                product("HOSTG52XL", usage: "EU-Host:ml.g5.2xlarge", type: "ml.g5.2xlarge", plato: "Hosting", region: region),
                product("HOSTM5XL", usage: "Host:ml.m5.xlarge", type: "ml.m5.xlarge", plato: "Hosting", region: region),
                product("TRAING52XL", usage: "EU-Train:ml.g5.2xlarge", type: "ml.g5.2xlarge", plato: "Training", region: region),
                product("NBG52XL", usage: "EU-Notebk:ml.g5.2xlarge", type: "ml.g5.2xlarge", plato: "Notebook", region: region),
                product("OTHERREGION", usage: "USE1-Host:ml.g6.xlarge", type: "ml.g6.xlarge", plato: "Hosting", region: "us-east-1"),
                product("HOSTGB", usage: "EU-Host:ml.p5.48xlarge", type: "ml.p5.48xlarge", plato: "Hosting", region: region),
            ].joined(separator: ",\n"))
              },
              "terms" : {
                "OnDemand" : {
            \([
                onDemand("HOSTG52XL", usd: "9.8765000000"), onDemand("HOSTM5XL", usd: "0.5000000000"),
                onDemand("TRAING52XL", usd: "7.0000000000"), onDemand("NBG52XL", usd: "6.0000000000"),
                onDemand("OTHERREGION", usd: "5.0000000000"), onDemand("HOSTGB", usd: "0.0100000000", unit: "GB-Mo"),
            ].joined(separator: ",\n"))
                },
                "Reserved" : {
                  "HOSTG52XL" : { "HOSTG52XL.38NPMPTW36" : { "priceDimensions" : { "X" : { "unit" : "Hrs", "pricePerUnit" : { "USD" : "0.1" } } } } }
                }
              },
              "attributesList" : { }
            }
            """
    }

    /// Serves ``file(region:offerCode:)`` for `region` where pricing.us-east-1.amazonaws.com has it, from
    /// Tests/python/static_file_server.py on 127.0.0.1 (port 0), with `dir/served` as its folder (it logs each request
    /// to `dir/served/requests.log`). `$SOUS_PRICE_LIST_URL` is `http://127.0.0.1:<port>`.
    public static func serve(in dir: URL, region: String = "eu-west-1") throws -> TestServerProcess {
        let root = dir.appendingPathComponent("served")
        let folder = root.appendingPathComponent("offers/v1.0/aws/AmazonSageMaker/current/\(region)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try file(region: region).write(to: folder.appendingPathComponent("index.json"), atomically: true, encoding: .utf8)
        return try TestServerProcess(
            executable: TestPaths.python,
            arguments: [TestPaths.packageRoot.appendingPathComponent("Tests/python/static_file_server.py").path, root.path])
    }
}
