import Foundation
import SousTestSupport
import Testing

/// Cost and cloud safety (issue #18) through the built `sous` against moto: prices in plans, budgets refused before
/// anything is created, orphans found and deleted by `gc --cloud`, time-to-live schedules, preflight failures, the
/// warning for secrets stored in plain text, the live cost and the running-endpoint banner.
@Suite(.serialized) struct CostAndSafetyEndToEndTests {
    /// A deploy of a placeholder image on a type moto accepts, with a clean-up step, and a ttl from a param.
    static func deployRecipe(name: String) -> String {
        """
        name: \(name)
        params:
          ttl: {type: string, default: ""}
          ttl_role: {type: string, default: ""}
          instance_type: {type: string, default: ml.m5.xlarge}
        steps:
          - id: endpoint
            uses: sagemaker.deploy
            with:
              image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.3.0-tgi2.0.2-gpu-py310-cu121-ubuntu22.04
              instance_type: ${{ params.instance_type }}
              poll_interval: 0.05
              ttl: ${{ params.ttl }}
              ttl_role: ${{ params.ttl_role }}
          - id: cleanup
            uses: sagemaker.delete
            with:
              endpoint_name: ${{ steps.endpoint.outputs.endpoint_name }}
        """
    }

    @Test("sous plan shows each notebook recipe's hourly endpoint cost, from the price table, as an estimate")
    func planCostsOfTheNotebookRecipes() throws {
        let f = try AWSStepsFixture()
        let expected = [
            "7b": ("ml.g5.2xlarge", "$1.515"), "13b": ("ml.g5.12xlarge", "$7.09"), "70b": ("ml.g5.48xlarge", "$20.36"),
        ]
        for (size, (type, price)) in expected {
            for container in ["tgi", "lmi"] {
                let recipe = AWSStepsFixture.recipe("llama2-\(size)-\(container).yaml")
                let plan = try f.sous(["plan", recipe])
                #expect(plan.status == 0, "\(plan.stderr)")
                #expect(plan.stdout.contains("      cost \(type) × 1 ≈ \(price)/h (estimate)\n"), "\(size) \(container):\n\(plan.stdout)")
                #expect(plan.stdout.contains("cost     the run would create endpoints at ≈ \(price)/h (estimate)\n"), "\(plan.stdout)")
                #expect(plan.stdout.contains("estimate: SageMaker real-time inference on-demand list prices, us-east-1"), "\(plan.stdout)")
                let json = try f.sous(["plan", recipe, "--json"])
                let steps = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
                let cost = try #require(steps.first { $0["step"] as? String == "endpoint" }?["cost"] as? [String: Any])
                #expect(cost["instance_type"] as? String == type && cost["estimate"] as? Bool == true && cost["local"] as? Bool == false)
                #expect(cost["hourly_usd"] as? Double == Double(price.dropFirst()))
            }
        }
        // Another region: still priced, and saying the price is us-east-1's.
        let eu = try f.sous(["plan", AWSStepsFixture.recipe("llama2-7b-tgi.yaml"), "-p", "region=eu-west-1"])
        #expect(eu.stdout.contains("cost ml.g5.2xlarge × 1 ≈ $1.515/h (estimate; us-east-1 list price; eu-west-1 differs)"), "\(eu.stdout)")
        // Planning created nothing.
        let s = try f.state()
        #expect(s.endpoints.isEmpty && s.models.isEmpty && s.configs.isEmpty)
    }

    @Test("sous prices update caches a region's AWS Price List (from a test server); prices, plan and budgets then use it, with its date, as an estimate")
    func pricesFromTheAWSPriceList() throws {
        let f = try AWSStepsFixture()
        let server = try PriceListOffer.serve(in: f.dir)
        defer { server.stop() }
        let env = ["SOUS_PRICE_LIST_URL": "http://127.0.0.1:\(server.port)"]
        let recipe = AWSStepsFixture.recipe("llama2-7b-tgi.yaml")

        // Before: the built-in table, saying eu-west-1 differs.
        let before = try f.sous(["prices", "--region", "eu-west-1", "ml.g5.2xlarge"], env: env)
        #expect(before.status == 0, "\(before.stderr)")
        #expect(before.stdout.contains("prices: SageMaker real-time inference on-demand list prices, us-east-1"), "\(before.stdout)")
        #expect(before.stdout.contains("eu-west-1 differs: `sous prices update --region eu-west-1` fetches its prices from the AWS Price List"), "\(before.stdout)")
        #expect(before.stdout.contains("≈ $1.515/h  (us-east-1 list price; eu-west-1 differs)"), "\(before.stdout)")

        let update = try f.sous(["prices", "update", "--region", "eu-west-1"], env: env)
        #expect(update.status == 0, "\(update.stderr)")
        let cache = f.dir.appendingPathComponent("cache/sous/prices/eu-west-1.json").path
        #expect(update.stdout == "eu-west-1: 2 instance types, AWS Price List for eu-west-1, published 2025-06-12 (version 20250612172112), cached in \(cache)\n")

        let after = try f.sous(["prices", "--region", "eu-west-1", "ml.g5.2xlarge", "ml.g5.12xlarge", "ml.g9.mega"], env: env)
        #expect(after.stdout.contains("prices: AWS Price List for eu-west-1, published 2025-06-12 (cached in \(cache))"), "\(after.stdout)")
        #expect(after.stdout.contains("≈ $9.877/h  (AWS Price List for eu-west-1, published 2025-06-12)"), "\(after.stdout)")
        #expect(after.stdout.contains("≈ $7.09/h  (us-east-1 list price; eu-west-1 differs)"), "\(after.stdout)")
        #expect(after.stdout.contains("ml.g9.mega") && after.stdout.contains("no price"), "\(after.stdout)")

        let plan = try f.sous(["plan", recipe, "-p", "region=eu-west-1"])
        #expect(plan.stdout.contains("cost ml.g5.2xlarge × 1 ≈ $9.877/h (estimate; AWS Price List for eu-west-1, published 2025-06-12)"), "\(plan.stdout)")
        #expect(plan.stdout.contains("estimate: AWS Price List for eu-west-1, published 2025-06-12 (cached by `sous prices update`), else SageMaker real-time"), "\(plan.stdout)")
        let json = try f.sous(["plan", recipe, "-p", "region=eu-west-1", "--json"])
        let steps = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let cost = try #require(steps.first { $0["step"] as? String == "endpoint" }?["cost"] as? [String: Any])
        #expect(cost["hourly_usd"] as? Double == 9.8765 && cost["estimate"] as? Bool == true)
        // us-east-1 has no cached list: the built-in table, as before.
        #expect(try f.sous(["plan", recipe]).stdout.contains("      cost ml.g5.2xlarge × 1 ≈ $1.515/h (estimate)\n"))
        // A budget is checked against the region's price.
        let refused = try f.sous(["plan", recipe, "-p", "region=eu-west-1", "--max-hourly-cost", "5"])
        #expect(refused.stdout.contains("budget   ≈ $9.877/h (estimate), over $5.00/h (--max-hourly-cost)"), "\(refused.stdout)")
        // A region AWS has no list for.
        let missing = try f.sous(["prices", "update", "--region", "eu-north-1"], env: env)
        #expect(missing.status == 1 && missing.stderr.contains("error: eu-north-1: GET http://127.0.0.1:\(server.port)/offers/v1.0/aws/AmazonSageMaker/current/eu-north-1/index.json answered HTTP 404"), "\(missing.stderr)")
    }

    @Test("a budget (--max-hourly-cost, or the recipe's budget:) refuses the run before anything is created")
    func budgetRefusalCreatesNothing() throws {
        let f = try AWSStepsFixture()
        try f.useHub(spec: AWSStepsEndToEndTests.hubSpec)
        let recipe = AWSStepsFixture.recipe("llama2-7b-tgi.yaml")
        let refused = try f.sous(["run", recipe, "--max-hourly-cost", "0.1"] + f.tgiParams)
        #expect(refused.status == 2, "\(refused.stdout)\n\(refused.stderr)")
        #expect(
            refused.stderr.contains(
                "error: over budget, nothing was created: the run's endpoints would cost ≈ $0.23/h (estimate), over $0.10/h (--max-hourly-cost):\n  endpoint: ml.m5.xlarge × 1 ≈ $0.23/h\npick a smaller instance type (-p instance_type=…) or raise the budget"),
            "\(refused.stderr)")
        #expect(refused.stdout.isEmpty, "no step ran: \(refused.stdout)")

        // The recipe's own budget, with the place it is written.
        try f.write("budget.yaml", "extends: \(recipe)\nbudget:\n  max_hourly_cost: 0.2\n")
        let byRecipe = try f.sous(["run", "budget.yaml"] + f.tgiParams)
        #expect(byRecipe.status == 2)
        #expect(byRecipe.stderr.contains("over $0.20/h (budget.max_hourly_cost at budget.yaml:3:20)"), "\(byRecipe.stderr)")
        // The command line wins over the recipe; plan says whether the run fits.
        let plan = try f.sous(["plan", "budget.yaml", "--max-hourly-cost", "1"] + f.tgiParams)
        #expect(plan.stdout.contains("budget   ≈ $0.23/h (estimate), within $1.00/h (--max-hourly-cost)"), "\(plan.stdout)")
        // A type the price table does not know cannot be checked against a budget: refused too.
        let unknown = try f.sous(["run", "budget.yaml"] + f.tgiParams + ["-p", "instance_type=ml.m5.large"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("cannot be checked against $0.20/h (budget.max_hourly_cost at budget.yaml:3:20): step 'endpoint' creates an endpoint whose ml.m5.large × 1, cost unknown: ml.m5.large is not in sous's price table"), "\(unknown.stderr)")

        // moto holds nothing of this workspace: no endpoint, config, model, bucket or object, and the workspace no ledger.
        let s = try f.state()
        #expect(s.endpoints.isEmpty && s.configs.isEmpty && s.models.isEmpty)
        #expect(!s.buckets.contains(f.bucket))
        #expect(!FileManager.default.fileExists(atPath: "\(f.workspace)/llama2-7b-tgi/ledger.jsonl"))
        #expect(!FileManager.default.fileExists(atPath: "\(f.workspace)/budget/ledger.jsonl"))
    }

    @Test("status --cloud lists every sous-tagged endpoint with its cost; gc --cloud deletes the orphans: endpoint, config, model")
    func gcDeletesOrphansInDependencyOrder() throws {
        // A moto of its own: gc deletes what no workspace on this machine owns, which would include other tests' leftovers.
        let moto = try MotoForSteps(signed: true)
        let gone = try AWSStepsFixture(moto: moto)
        let kept = try AWSStepsFixture(moto: moto)
        for f in [gone, kept] {
            try f.write("d.yaml", Self.deployRecipe(name: "d"))
            let r = try f.sous(["run", "d.yaml", "--keep"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let orphan = try #require(gone.outputs("d", "endpoint")["endpoint_name"] as? String)
        let orphanModel = try #require(gone.outputs("d", "endpoint")["model_name"] as? String)
        let owned = try #require(kept.outputs("d", "endpoint")["endpoint_name"] as? String)
        try FileManager.default.removeItem(atPath: gone.workspace)

        let status = try kept.sous(["status", "--cloud"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("sous-tagged endpoints in us-east-1:"), "\(status.stdout)")
        #expect(status.stdout.contains("  \(orphan)  InService  up "), "\(status.stdout)")
        #expect(status.stdout.contains("ml.m5.xlarge × 1 ≈ $0.23/h (estimate), ") && status.stdout.contains(" so far"), "\(status.stdout)")
        #expect(status.stdout.contains("orphan: its workspace \(gone.workspace) is gone (or on another machine)"), "\(status.stdout)")
        #expect(status.stdout.contains("3 orphan(s) (endpoints, configs, models no workspace here owns): `sous gc --cloud` deletes them"), "\(status.stdout)")
        let json = try kept.sous(["status", "--cloud", "--json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let listed = try #require(doc["endpoints"] as? [[String: Any]])
        #expect(Set(listed.compactMap { $0["name"] as? String }) == [orphan, owned])
        #expect(listed.first { $0["name"] as? String == owned }?["orphan"] is NSNull)
        #expect(listed.first { $0["name"] as? String == orphan }?["hourly_usd"] as? Double == 0.23)

        // Without a terminal, gc asks for --yes and deletes nothing.
        let asked = try kept.sous(["gc", "--cloud"])
        #expect(asked.status == 2 && asked.stderr.contains("pass --yes"), "\(asked.stderr)")
        let before = try #require(try JSONSerialization.jsonObject(with: Data(try kept.ask("state").utf8)) as? [String: Any])
        #expect((before["endpoints"] as? [String: Any])?.count == 2)
        let gc = try kept.sous(["gc", "--cloud", "--yes"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let deleted = gc.stdout.split(separator: "\n").filter { $0.hasPrefix("deleted ") }
        #expect(deleted.map { String($0) } == ["deleted endpoint \(orphan)", "deleted endpoint config \(orphan)", "deleted model \(orphanModel)"], "\(gc.stdout)")
        #expect(gc.stdout.contains("deleting them saves ≈ $0.23/h (estimate)"), "\(gc.stdout)")
        let all = try #require(try JSONSerialization.jsonObject(with: Data(try kept.ask("state").utf8)) as? [String: Any])
        #expect((all["endpoints"] as? [String: Any])?.keys.sorted() == [owned], "the owned endpoint stays")
        #expect((all["models"] as? [String: Any])?.count == 1 && (all["configs"] as? [String: Any])?.count == 1)
        #expect(try kept.sous(["gc", "--cloud", "--yes"]).stdout.contains("no orphans in us-east-1"))
    }

    @Test("gc --cloud looks in several regions (--region a,b; --all-regions), and aborts unfinished uploads under sous's S3 locations after listing them")
    func gcSweepsRegionsAndUploads() throws {
        // A moto of its own (signature checking on): gc deletes what no workspace on this machine owns.
        let moto = try MotoForSteps(signed: true)
        let gone = try AWSStepsFixture(moto: moto)
        let f = try AWSStepsFixture(moto: moto)
        try gone.write("d.yaml", Self.deployRecipe(name: "d"))
        #expect(try gone.sous(["run", "d.yaml", "--keep"], env: ["AWS_REGION": "eu-west-1"]).status == 0)
        let orphan = try #require(gone.outputs("d", "endpoint")["endpoint_name"] as? String)
        try FileManager.default.removeItem(atPath: gone.workspace)

        // An upload of this workspace (a file, so the key has no '/': moto's signature check fails on a '/' in
        // ListMultipartUploads' prefix), an unfinished upload of its key, and one of another key sous never wrote.
        let bucket = "sous-e2e-gc-\(UUID().uuidString.prefix(6).lowercased())"
        try Data(repeating: 7, count: 1000).write(to: f.dir.appendingPathComponent("w.bin"))
        try f.write("up.yaml", """
            name: up
            steps:
              - id: bucket
                uses: s3.default-bucket
                with:
                  bucket: \(bucket)
              - id: up
                uses: s3.upload
                with:
                  source: \(f.dir.path)/w.bin
                  bucket: ${{ steps.bucket.outputs.bucket }}
                  prefix: ""
            """)
        #expect(try f.sous(["run", "up.yaml"]).status == 0)
        _ = try moto.ask("create-upload \(bucket) w.bin")
        _ = try moto.ask("create-upload \(bucket) other.bin")

        // The configured region only: no SageMaker orphan there; the upload is listed and, without --yes (and no
        // terminal), nothing is aborted. (moto reports every upload as begun in 2010, so --min-upload-age's default
        // 1h cannot be seen to spare a young upload here.)
        let here = try f.sous(["gc", "--cloud"])
        #expect(here.status == 2 && here.stderr.contains("pass --yes"), "\(here.stderr)")
        // moto checks a body-less REST request's signature against a made-up body, so ListSchedules fails when signed
        // (boto3's too): gc says it could not look at the schedules and goes on with the rest.
        #expect(here.stderr.hasPrefix("warning: could not look at EventBridge Scheduler schedules in us-east-1 (EventBridge Scheduler ListSchedules failed with SignatureDoesNotMatch (HTTP 403)"), "\(here.stderr)")
        #expect(here.stdout.hasPrefix("no orphans in us-east-1: every sous-tagged endpoint, endpoint config and model belongs to a workspace here\n"), "\(here.stdout)")
        #expect(here.stdout.contains("unfinished multipart uploads under sous's S3 locations (1), aborted:\n  unfinished upload s3://\(bucket)/w.bin  begun "), "\(here.stdout)")
        #expect(here.stdout.contains("under s3://\(bucket)/w.bin (recipe up in \(f.workspace)); its parts are billed as storage"), "\(here.stdout)")
        #expect(try f.state(bucket: bucket).uploads.count == 2, "nothing was aborted without --yes")

        // Two regions: the eu-west-1 orphans are listed, then everything is deleted in order.
        let asked = try f.sous(["gc", "--cloud", "--region", "us-east-1,eu-west-1", "--min-upload-age", "0"])
        #expect(asked.stdout.contains("orphans in eu-west-1 (3), deleted in this order:\n  endpoint \(orphan)  ml.m5.xlarge × 1"), "\(asked.stdout)")
        let gc = try f.sous(["gc", "--cloud", "--region", "us-east-1", "--region", "eu-west-1", "--min-upload-age", "0", "--yes"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let done = gc.stdout.split(separator: "\n").filter { $0.hasPrefix("deleted ") || $0.hasPrefix("aborted ") }.map(String.init)
        #expect(done.count == 4 && done[0] == "deleted endpoint \(orphan)" && done[1] == "deleted endpoint config \(orphan)", "\(gc.stdout)")
        #expect(done[2].hasPrefix("deleted model ") && done[3] == "aborted unfinished upload s3://\(bucket)/w.bin", "\(gc.stdout)")
        #expect(try f.state(bucket: bucket).uploads == [[bucket, "other.bin"]], "the upload sous never wrote stays")

        // --all-regions: us-east-1 and the regions whose prices are cached.
        try FileManager.default.createDirectory(at: f.dir.appendingPathComponent("cache/sous/prices"), withIntermediateDirectories: true)
        try #"{"region":"eu-west-1","publicationDate":"2025-06-12T17:21:12Z","version":"1","source":"test","fetchedAt":"2025-06-13T00:00:00Z","hourly":{"ml.m5.xlarge":0.5}}"#
            .write(to: f.dir.appendingPathComponent("cache/sous/prices/eu-west-1.json"), atomically: true, encoding: .utf8)
        let all = try f.sous(["gc", "--cloud", "--all-regions", "--yes"])
        #expect(all.stdout.contains("no orphans in us-east-1") && all.stdout.contains("no orphans in eu-west-1"), "\(all.stdout)")
        #expect(try f.sous(["gc", "--cloud", "--all-regions", "--region", "eu-west-1"]).status == 64)
        _ = try moto.ask("abort-uploads \(bucket) other.bin")
    }

    @Test("gc --cloud deletes sous's ttl schedules whose endpoint is gone (moto without signature checks: its Scheduler GETs fail them)")
    func gcDeletesSchedulesOfGoneEndpoints() throws {
        let moto = try MotoForSteps(signed: false)
        let f = try AWSStepsFixture(moto: moto)
        let role = AWSStepsFixture.schedulerRole
        for name in ["t", "u"] {
            try f.write("\(name).yaml", Self.deployRecipe(name: name))
            #expect(try f.sous(["run", "\(name).yaml", "--keep", "-p", "ttl=2h", "-p", "ttl_role=\(role)"]).status == 0)
        }
        // t's endpoint is deleted behind sous's back: its schedule is left; u's endpoint and schedule are owned.
        let deleted = try #require(f.outputs("t", "endpoint")["endpoint_name"] as? String)
        let kept = try #require(f.outputs("u", "endpoint")["endpoint_name"] as? String)
        let (gone, owned) = (try Self.scheduleName(f, deleted), try Self.scheduleName(f, kept, recipe: "u"))
        _ = try moto.ask("delete-endpoint \(deleted)")
        let gc = try f.sous(["gc", "--cloud", "--yes"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(gc.stdout.contains("  ttl schedule \(gone)\n      its endpoint \(deleted) is gone\n"), "\(gc.stdout)")
        #expect(gc.stdout.contains("deleted ttl schedule \(gone)\n") && !gc.stdout.contains(owned), "\(gc.stdout)")
        #expect(try f.ask("schedule \(gone)") == "{}")
        #expect(try f.ask("schedule \(owned)") != "{}", "the schedule of a live, owned endpoint stays")
        #expect(try f.sous(["destroy", "u.yaml", "--yes"]).status == 0)
    }

    @Test("ttl: a one-time DeleteEndpoint schedule at now + ttl, moved by sous keep, removed by the clean-up and by destroy")
    func ttlScheduleLifecycle() throws {
        let f = try AWSStepsFixture(moto: try MotoForSteps.unsigned.get())
        try f.write("t.yaml", Self.deployRecipe(name: "t"))
        let role = AWSStepsFixture.schedulerRole

        // A ttl without a role fails before anything is created.
        let noRole = try f.sous(["run", "t.yaml", "--keep", "-p", "ttl=2h"], env: ["SOUS_SCHEDULER_ROLE": ""])
        #expect(noRole.status == 1 && noRole.stderr.contains("a ttl needs a role for EventBridge Scheduler"), "\(noRole.stderr)")
        #expect(try f.state().models.isEmpty)

        let started = Date()
        let run = try f.sous(["run", "t.yaml", "--keep", "-p", "ttl=2h", "-p", "ttl_role=\(role)"])
        #expect(run.status == 0, "\(run.stderr)")
        let endpoint = try #require(f.outputs("t", "endpoint")["endpoint_name"] as? String)
        var s = try Self.schedule(f, endpoint)
        #expect(s["target"] as? String == "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint")
        #expect(s["input"] as? String == #"{"EndpointName":"\#(endpoint)"}"#)
        #expect(s["role"] as? String == role && s["after"] as? String == "DELETE" && s["timezone"] as? String == "UTC")
        #expect(try abs(Self.at(s).timeIntervalSince(started.addingTimeInterval(7200))) < 120, "\(s)")
        #expect(run.stderr.contains("its ttl deletes it at "), "\(run.stderr)")
        #expect(try f.sous(["status", "t"]).stdout.contains("its ttl deletes it at "))

        // sous keep moves it; --forever removes it; a cached endpoint gets --ttl's timer from the run.
        let keep = try f.sous(["keep", "t.yaml", "3h"])
        #expect(keep.status == 0 && keep.stdout.contains("endpoint \(endpoint) is deleted at "), "\(keep.stdout)\n\(keep.stderr)")
        s = try Self.schedule(f, endpoint)
        #expect(try abs(Self.at(s).timeIntervalSinceNow - 3 * 3600) < 120, "\(s)")
        #expect(try f.sous(["keep", "t.yaml", "--forever"]).status == 0)
        #expect(try Self.schedule(f, endpoint).isEmpty)
        // (The same params as the first run: the endpoint step is cached, so --ttl sets its timer after the run.)
        let again = try f.sous(["run", "t.yaml", "--keep", "-p", "ttl=2h", "-p", "ttl_role=\(role)", "--ttl", "1h", "--ttl-role", role])
        #expect(again.status == 0 && again.stderr.contains("ttl      endpoint \(endpoint) (already running) is deleted at "), "\(again.stderr)")
        #expect(try abs(Self.at(try Self.schedule(f, endpoint)).timeIntervalSinceNow - 3600) < 120)

        // The clean-up deletes the endpoint and its schedule.
        let full = try f.sous(["run", "t.yaml", "-p", "ttl=2h", "-p", "ttl_role=\(role)"])
        #expect(full.status == 0, "\(full.stderr)")
        #expect(try Self.schedule(f, endpoint).isEmpty)
        #expect(try f.state().endpoints.isEmpty)

        // destroy too.
        #expect(try f.sous(["run", "t.yaml", "--keep", "-p", "ttl=30m", "-p", "ttl_role=\(role)"]).status == 0)
        let second = try #require(f.outputs("t", "endpoint")["endpoint_name"] as? String)
        #expect(try !Self.schedule(f, second).isEmpty)
        let destroy = try f.sous(["destroy", "t.yaml", "--yes"])
        #expect(destroy.status == 0, "\(destroy.stderr)")
        #expect(try Self.schedule(f, second).isEmpty)
        #expect(try f.state().endpoints.isEmpty)
    }

    /// The schedule the ledger of recipe `t` names for `endpoint`, as boto3 reads it ([:] when moto has none).
    static func schedule(_ f: AWSStepsFixture, _ endpoint: String) throws -> [String: Any] {
        let name = try scheduleName(f, endpoint)
        return try #require(try JSONSerialization.jsonObject(with: Data(try f.ask("schedule \(name)").utf8)) as? [String: Any])
    }

    /// The name of the schedule the ledger of `recipe` records for `endpoint`.
    static func scheduleName(_ f: AWSStepsFixture, _ endpoint: String, recipe: String = "t") throws -> String {
        let ledger = try String(contentsOfFile: "\(f.workspace)/\(recipe)/ledger.jsonl", encoding: .utf8)
        let entries = ledger.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let name = try #require(
            entries.last { $0["type"] as? String == "scheduler.schedule" && ($0["attributes"] as? [String: Any])?["endpoint"] as? String == endpoint }?["name"]
                as? String)
        #expect(name.hasPrefix("sous-ttl-") && name.count <= 64)
        return name
    }

    static func at(_ s: [String: Any]) throws -> Date {
        let e = try #require(s["expression"] as? String)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "'at('yyyy-MM-dd'T'HH:mm:ss')'"
        return try #require(f.date(from: e), "\(e)")
    }

    @Test("preflight: a missing role, an unknown instance type and a missing bucket fail before anything is created, each saying what to do")
    func preflightFailures() throws {
        let f = try AWSStepsFixture()
        let missing = "sous-e2e-missing-\(UUID().uuidString.prefix(8).lowercased())"
        try f.write("pf.yaml", """
            name: pf
            params:
              role: {type: string, default: arn:aws:iam::123456789012:role/no-such-role}
              bucket: {type: string, default: \(missing)}
              instance_type: {type: string, default: ml.g9.mega}
            steps:
              - id: preflight
                uses: preflight
                with:
                  role: ${{ params.role }}
                  bucket: ${{ params.bucket }}
                  instance_type: ${{ params.instance_type }}
              - id: bucket
                uses: s3.default-bucket
                with:
                  bucket: \(f.bucket)
            """)
        let only = try f.sous(["run", "pf.yaml", "--preflight-only"])
        #expect(only.status == 1, "\(only.stdout)\n\(only.stderr)")
        for line in [
            "✓ credentials: account 123456789012 (arn:aws:iam::123456789012:user/sous-e2e), region us-east-1",
            "✗ role: role no-such-role does not exist in account 123456789012 (IAM said: ",
            "): create it with a trust policy for sagemaker.amazonaws.com and a policy to read the model from S3 and write logs (e.g. AmazonSageMakerFullAccess), or name another with -p role=arn:aws:iam::ACCOUNT:role/NAME",
            "✗ bucket: bucket \(missing) does not exist (HeadBucket: 404): create it (aws s3 mb s3://\(missing) --region us-east-1) or name an existing bucket with -p bucket=…",
            "✗ instance_type: unknown instance type ml.g9.mega: it is not in sous's table of SageMaker instance types and Service Quotas could not confirm it (Service Quotas ListServiceQuotas: ",
            "check the name (did you mean ",
            "? quota: could not check (Service Quotas: ",
        ] {
            #expect(only.stdout.contains(line), "missing '\(line)' in:\n\(only.stdout)")
        }
        #expect(only.stderr.contains("preflight found 3 problems before anything was created:\n  role: role no-such-role does not exist"), "\(only.stderr)")
        #expect(only.stderr.contains("preflight failed: fix what it says, then run again; nothing was created"), "\(only.stderr)")
        #expect(AWSStepsFixture.statuses(only.stdout)["bucket"] == nil, "--preflight-only runs nothing else")

        // A plain run stops at the preflight: the bucket step never runs.
        let run = try f.sous(["run", "pf.yaml"])
        #expect(run.status == 1)
        #expect(AWSStepsFixture.statuses(run.stdout) == ["preflight": "failed"], "\(run.stdout)")
        #expect(!(try f.state()).buckets.contains(f.bucket))

        // A role SageMaker may not assume is a failure too; the right role, a bucket the run creates and a known type pass.
        let trust = try f.sous(["run", "pf.yaml", "--preflight-only", "-p", "role=\(AWSStepsFixture.schedulerRole)", "-p", "instance_type=ml.m5.xlarge"])
        #expect(trust.stdout.contains("✗ role: role sous-scheduler exists but its trust policy does not let SageMaker assume it: add a statement allowing the principal sagemaker.amazonaws.com the action sts:AssumeRole"), "\(trust.stdout)")
        try f.write("ok.yaml", """
            name: ok
            steps:
              - id: preflight
                uses: preflight
                with: {bucket: \(missing), create_bucket: true, instance_type: ml.m5.xlarge}
            """)
        let ok = try f.sous(["run", "ok.yaml", "--preflight-only"])
        #expect(ok.status == 0, "\(ok.stdout)\n\(ok.stderr)")
        #expect(ok.stdout.contains("✓ role: \(AWSStepsFixture.role) exists and sagemaker.amazonaws.com may assume it"), "\(ok.stdout)")
        #expect(ok.stdout.contains("✓ bucket: s3://\(missing) does not exist yet; the run creates it"))
        #expect(ok.stdout.contains("✓ instance_type: ml.m5.xlarge is a SageMaker instance type sous knows (CPU only, 16 GiB)"), "\(ok.stdout)")
        #expect(ok.stderr.contains("preflight passed; nothing was created"))

        // Weights that do not fit the instance's GPU memory (a sparse 30 GiB file in a local folder).
        let model = f.dir.appendingPathComponent("big-model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try #"{"torch_dtype": "float16"}"#.write(to: model.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let weights = model.appendingPathComponent("model.safetensors")
        #expect(FileManager.default.createFile(atPath: weights.path, contents: nil))
        let handle = try FileHandle(forWritingTo: weights)
        try handle.truncate(atOffset: 30 << 30)
        try handle.close()
        try f.write("mem.yaml", """
            name: mem
            steps:
              - id: preflight
                uses: preflight
                with: {model_id: \(model.path), instance_type: ml.g5.2xlarge, skip: [credentials, role, quota, instance_type]}
            """)
        let mem = try f.sous(["run", "mem.yaml", "--preflight-only"])
        #expect(mem.status == 1)
        #expect(mem.stdout.contains("✗ memory: the weights (≈ 30.0 GiB in float16, ≈ 36.0 GiB with 20% for the KV cache and activations) do not fit ml.g5.2xlarge's 24 GiB of GPU memory (1 × NVIDIA A10G): pick ml.g4dn.12xlarge (64 GiB, ≈ $4.89/h) or ml.g6.12xlarge (96 GiB, ≈ $5.752/h), or serve them quantized"), "\(mem.stdout)")
    }

    @Test("a secret bound for a model's environment is warned about (plan and run), and never printed")
    func secretInModelEnvironmentIsWarned() throws {
        let f = try AWSStepsFixture()
        try f.write("leak.yaml", """
            name: leak
            secrets:
              tok: env:SOUS_E2E_TOKEN
            steps:
              - id: model
                uses: sagemaker.model
                with:
                  image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.3.0-tgi2.0.2-gpu-py310-cu121-ubuntu22.04
                  env:
                    HF_MODEL_ID: org/model
                    HUGGING_FACE_HUB_TOKEN: ${{ secrets.tok }}
            """)
        let env = ["SOUS_E2E_TOKEN": "hf_leaky_token_value"]
        let plan = try f.sous(["plan", "leak.yaml"], env: env)
        #expect(plan.stdout.contains("⚠ the SageMaker model's environment would hold a secret in plain text (env.HUGGING_FACE_HUB_TOKEN): anyone allowed sagemaker:DescribeModel"), "\(plan.stdout)")
        let run = try f.sous(["run", "leak.yaml"], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("warning: model: the SageMaker model's environment would hold a secret in plain text (env.HUGGING_FACE_HUB_TOKEN)"), "\(run.stderr)")
        #expect(run.stderr.contains("serve the weights from S3 as the shipped TGI recipes do"))
        #expect(!(plan.stdout + run.stdout + run.stderr).contains("hf_leaky_token_value"))
        #expect(try f.sous(["destroy", "leak.yaml", "--yes"]).status == 0)
    }

    @Test("an endpoint shows its running cost while the run waits, and a run leaving it up ends with the banner")
    func liveCostAndRunningBanner() throws {
        let f = try AWSStepsFixture()
        try f.write("b.yaml", Self.deployRecipe(name: "b"))
        let json = try f.sous(["run", "b.yaml", "--keep", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let progress = json.stdout.split(separator: "\n").filter { $0.contains("\"step_progress\"") }
        #expect(progress.contains { $0.contains(" elapsed · ml.m5.xlarge × 1 ≈ $0.23/h (estimate), ") && $0.contains(" so far") }, "\(json.stdout)")

        let run = try f.sous(["run", "b.yaml", "--keep"])
        #expect(run.status == 0)
        #expect(run.stderr.contains("running  ⚠ 1 endpoint is still running on AWS, billed by the hour: ≈ $0.23/h (estimate), ≈ $5.52 a day."), "\(run.stderr)")
        #expect(run.stderr.contains(": ml.m5.xlarge × 1 ≈ $0.23/h (estimate), up "), "\(run.stderr)")
        #expect(run.stderr.contains("         remove it: sous destroy b.yaml\n"), "\(run.stderr)")
        #expect(run.stderr.contains("         or have it deleted later even if sous never runs again: sous keep b.yaml 2h"), "\(run.stderr)")
        let status = try f.sous(["status", "b"])
        #expect(status.stdout.contains("    ml.m5.xlarge × 1 ≈ $0.23/h (estimate), ") && status.stdout.contains(" so far\n"), "\(status.stdout)")
        #expect(status.stdout.contains("running endpoints of this workspace together: ≈ $0.23/h"), "\(status.stdout)")
        let down = try f.sous(["run", "b.yaml"])
        #expect(down.stderr.contains("cost     ") && down.stderr.contains(" (ml.m5.xlarge × 1 at ≈ $0.23/h for "), "\(down.stderr)")
        #expect(down.stderr.contains("cleanup  done: no endpoint of this recipe is running on AWS."))
    }
}
