import Foundation
import SousTestSupport
import Testing

/// The shipped recipes and the AWS step kinds, run through the built `sous` against moto (signature
/// checking on) and checked with boto3.
@Suite(.serialized) struct AWSStepsEndToEndTests {
    /// moto answers InvokeEndpoint with a canned body and has no response streaming, so the
    /// recipes' `ask` step runs with `stream=false` here (streaming is covered by the invoke and
    /// local-cloud tests); `AWSStepsFixture.tgiParams` says the rest.
    static func tgiFixture() throws -> AWSStepsFixture {
        let f = try AWSStepsFixture()
        try f.useHub(spec: hubSpec)
        return f
    }

    @Test func tgiRecipeDeploysIsCachedWhileTheEndpointLivesAndCleansUp() throws {
        let f = try Self.tgiFixture()
        let recipe = AWSStepsFixture.recipe("llama2-tgi.yaml")
        let first = try f.sous(["run", recipe, "--keep"] + f.tgiParams)
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        let all = ["preflight", "bucket", "download", "upload_weights", "image", "endpoint", "ask_1", "ask_2"]
        #expect(AWSStepsFixture.statuses(first.stdout) == Dictionary(uniqueKeysWithValues: all.map { ($0, "ran") } + [("cleanup", "kept"), ("delete_s3", "kept")]))

        var s = try f.state()
        #expect(s.endpoints.count == 1 && s.configs.count == 1 && s.models.count == 1)
        let endpoint = try #require(s.endpoints.keys.first)
        #expect(endpoint.hasPrefix("Llama-2-13b-chat-hf-tgi-streaming-"))
        #expect(endpoint.count <= 63)
        let ep = try #require(s.endpoints[endpoint])
        #expect(ep["status"] as? String == "InService")
        #expect(ep["config"] as? String == endpoint)  // the SDK names the config like the endpoint
        let tags = ep["tags"] as? [String: String] ?? [:]
        #expect(tags["sous:recipe"] == "llama2-tgi" && tags["sous:step"] == "endpoint" && tags["sous:run"]?.isEmpty == false)
        let model = try #require(s.models.values.first)
        // The weights are served from S3: no token in the model's environment (DescribeModel would show it).
        #expect(model["env"] as? [String: String] == [
            "HF_MODEL_ID": "/opt/ml/model", "SM_NUM_GPUS": "4", "MAX_INPUT_LENGTH": "2048", "MAX_TOTAL_TOKENS": "4096",
            "MAX_BATCH_TOTAL_TOKENS": "8192",
        ])
        #expect(model["model_data_source"] as? String == "s3://\(f.bucket)/tgi/org/tiny-chat-hf/model/")
        #expect(!first.stderr.contains("in plain text"), "\(first.stderr)")
        #expect((model["image"] as? String)?.hasSuffix("huggingface-pytorch-tgi-inference:2.3.0-tgi2.0.2-gpu-py310-cu121-ubuntu22.04") == true)
        #expect(s.models.keys.first?.hasPrefix("huggingface-pytorch-tgi-inference-") == true)
        let variant = try #require((s.configs[endpoint]?["variants"] as? [[String: Any]])?.first)
        #expect(variant["InstanceType"] as? String == "ml.m5.xlarge")
        #expect(variant["VariantName"] as? String == "AllTraffic")
        #expect(variant["ContainerStartupHealthCheckTimeoutInSeconds"] as? Int == 300)

        // The token was used for the download on this machine only: not in SageMaker, not in the workspace.
        let ledger = try String(contentsOfFile: "\(f.workspace)/llama2-tgi/ledger.jsonl", encoding: .utf8)
        let stateText = try String(contentsOfFile: "\(f.workspace)/llama2-tgi/state.json", encoding: .utf8)
        #expect(!ledger.contains("hf_e2e_secret_token") && !stateText.contains("hf_e2e_secret_token"))

        // While the endpoint lives, everything is cached.
        let second = try f.sous(["run", recipe, "--keep"] + f.tgiParams)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(AWSStepsFixture.statuses(second.stdout) == [
            "preflight": "ran", "bucket": "cached", "download": "cached", "upload_weights": "cached", "image": "cached", "endpoint": "cached",
            "ask_1": "ran", "ask_2": "ran", "cleanup": "kept", "delete_s3": "kept",
        ])

        // A full run tears down: endpoint, config and model are gone.
        let third = try f.sous(["run", recipe] + f.tgiParams)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(AWSStepsFixture.statuses(third.stdout) == [
            "preflight": "ran", "bucket": "cached", "download": "cached", "upload_weights": "cached", "image": "cached", "endpoint": "cached",
            "ask_1": "ran", "ask_2": "ran", "cleanup": "ran", "delete_s3": "ran",
        ])
        s = try f.state(bucket: f.bucket, prefix: "tgi/")
        #expect(s.endpoints.isEmpty && s.configs.isEmpty && s.models.isEmpty, "\(s.endpoints.keys) \(s.configs.keys) \(s.models.keys)")
        #expect(s.objects[f.bucket]?.isEmpty ?? true, "the clean-up deletes the uploaded weights: \(s.objects)")
        let destroy = try f.sous(["destroy", recipe, "--yes"])
        #expect(destroy.status == 0 && destroy.stdout.contains("destroyed 1 resource(s)"), "only the bucket sous created is left: \(destroy.stdout)")
    }

    @Test func endpointDeletedOutsideSousIsReportedByPlanAndRecreatedByRun() throws {
        let f = try Self.tgiFixture()
        let recipe = AWSStepsFixture.recipe("llama2-tgi.yaml")
        #expect(try f.sous(["run", recipe, "--keep"] + f.tgiParams).status == 0)
        let old = try #require(f.outputs("llama2-tgi", "endpoint")["endpoint_name"] as? String)
        _ = try f.ask("delete-endpoint \(old)")

        let plan = try f.sous(["plan", recipe, "--keep"] + f.tgiParams)
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("endpoint \(old) no longer exists"), "\(plan.stdout)")
        #expect(plan.stdout.contains("4 of 10 steps would run"), "\(plan.stdout)")  // endpoint, and the effects: preflight and the asks
        #expect(plan.stdout.split(separator: "\n").contains { $0.contains("cleanup ") && $0.contains("sagemaker.delete") && $0.contains("skip  kept (--keep)") }, "\(plan.stdout)")

        let rerun = try f.sous(["run", recipe, "--keep", "-v"] + f.tgiParams)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(AWSStepsFixture.statuses(rerun.stdout)["endpoint"] == "ran")
        let new = try #require(f.outputs("llama2-tgi", "endpoint")["endpoint_name"] as? String)
        #expect(new != old)
        let s = try f.state()
        #expect(Array(s.endpoints.keys) == [new])
        #expect(s.endpoints[new]?["status"] as? String == "InService")
        #expect(s.models.count == 1 && s.configs.count == 1)  // the model and config were reused, not duplicated

        // destroy removes everything the ledger holds.
        let destroy = try f.sous(["destroy", recipe, "--yes"])
        #expect(destroy.status == 0, "\(destroy.stderr)")
        #expect(destroy.stdout.contains("destroyed 5 resource(s)"), "\(destroy.stdout)")  // endpoint, config, model, the weights, the bucket
        let after = try f.state()
        #expect(after.endpoints.isEmpty && after.configs.isEmpty && after.models.isEmpty)
    }

    @Test func killNineBetweenCreateAndResultOrWhileWaitingAdoptsTheSameEndpoint() throws {
        let f = try Self.tgiFixture()
        let recipe = AWSStepsFixture.recipe("llama2-tgi.yaml")
        for point in ["sagemaker.endpoint.created", "sagemaker.endpoint.waiting"] {
            // SOUS_TEST_KILL_AT makes sous SIGKILL itself at that point (after CreateEndpoint returned but before
            // the ledger holds the result; or after the result, during the wait for InService).
            let killed = try f.sous(["run", recipe, "--keep"] + f.tgiParams, env: ["SOUS_TEST_KILL_AT": point])
            #expect(killed.status == SIGKILL, "\(point): \(killed.stdout)\n\(killed.stderr)")
            let during = try f.state()
            #expect(during.endpoints.count == 1, "\(point)")
            let name = try #require(during.endpoints.keys.first)

            let rerun = try f.sous(["run", recipe, "--keep", "-v"] + f.tgiParams)
            #expect(rerun.status == 0, "\(rerun.stderr)")
            #expect((rerun.stdout + rerun.stderr).contains("adopted endpoint \(name)"), "\(point): \(rerun.stdout)\n\(rerun.stderr)")
            let after = try f.state()
            #expect(Array(after.endpoints.keys) == [name], "\(point): exactly one endpoint")
            #expect(after.models.count == 1 && after.configs.count == 1, "\(point)")
            #expect(try f.outputs("llama2-tgi", "endpoint")["endpoint_name"] as? String == name)

            let destroy = try f.sous(["destroy", recipe, "--yes"])
            #expect(destroy.status == 0, "\(destroy.stderr)")
            let gone = try f.state()
            #expect(gone.endpoints.isEmpty && gone.configs.isEmpty && gone.models.isEmpty, "\(point)")
        }
    }

    @Test func killNineDuringMultipartUploadResumesAndTheObjectIsIntact() throws {
        let f = try AWSStepsFixture()
        // 6 parts of 64 KiB (moto here accepts parts down to 1 KiB), one at a time so the kill lands mid-upload.
        let part = 65_536
        let data = Data((0..<(part * 6 - 123)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) })
        try FileManager.default.createDirectory(at: f.dir.appendingPathComponent("data"), withIntermediateDirectories: true)
        try data.write(to: f.dir.appendingPathComponent("data/weights.bin"))
        try f.write("up.yaml", """
            name: upload
            steps:
              - id: bucket
                uses: s3.default-bucket
                with:
                  bucket: sous-e2e-multipart
              - id: up
                uses: s3.upload
                with:
                  source: \(f.dir.path)/data/weights.bin
                  bucket: ${{ steps.bucket.outputs.bucket }}
                  prefix: big
                  part_size: \(part)
                  multipart_threshold: \(part)
                  concurrency: 1
            """)
        let killed = try f.sous(["run", "up.yaml"], env: ["SOUS_TEST_KILL_AT": "s3.upload.bytes:\(part * 2)"])
        #expect(killed.status == SIGKILL, "\(killed.stdout)\n\(killed.stderr)")
        let during = try f.state()
        #expect(during.uploads.contains(["sous-e2e-multipart", "big/weights.bin"]), "\(during.uploads)")
        #expect(during.objects["sous-e2e-multipart"]?["big/weights.bin"] == nil)

        let rerun = try f.sous(["run", "up.yaml", "-v"])
        #expect(rerun.status == 0, "\(rerun.stdout)\n\(rerun.stderr)")
        let out = try f.outputs("upload", "up")
        #expect(out["uri"] as? String == "s3://sous-e2e-multipart/big/weights.bin")
        #expect((out["parts_reused"] as? Int ?? 0) >= 2, "\(out)")
        #expect(out["bytes"] as? Int == data.count)
        let s = try f.state()
        let obj = try #require(s.objects["sous-e2e-multipart"]?["big/weights.bin"])
        #expect(obj.size == data.count)
        #expect(obj.sha256 == (try AWSStepsFixture.sha256Hex(f.dir.appendingPathComponent("data/weights.bin").path)))
        #expect(!s.uploads.contains(["sous-e2e-multipart", "big/weights.bin"]))

        // Unchanged: cached; the object deleted behind sous's back: plan says so and run uploads again.
        #expect(AWSStepsFixture.statuses(try f.sous(["run", "up.yaml"]).stdout)["up"] == "cached")

        let destroy = try f.sous(["destroy", "up.yaml", "--yes"])
        #expect(destroy.status == 0, "\(destroy.stderr)")
        let after = try f.state()
        #expect(after.objects["sous-e2e-multipart"] == nil)
        #expect(!after.buckets.contains("sous-e2e-multipart"))  // sous created it and it is empty: deleted too
    }

    @Test func destroyAbortsTheStepsUnfinishedUploadsThatNoStateFileKnows() throws {
        let f = try AWSStepsFixture()
        let moto = try #require(f.moto)
        let part = 65_536
        try FileManager.default.createDirectory(at: f.dir.appendingPathComponent("data"), withIntermediateDirectories: true)
        try Data(repeating: 7, count: part * 2).write(to: f.dir.appendingPathComponent("data/weights.bin"))
        try f.write("up.yaml", """
            name: orphans
            steps:
              - id: bucket
                uses: s3.default-bucket
                with:
                  bucket: sous-e2e-orphans
              - id: up
                uses: s3.upload
                with:
                  source: \(f.dir.path)/data/weights.bin
                  bucket: ${{ steps.bucket.outputs.bucket }}
                  prefix: ""
                  part_size: \(part)
                  multipart_threshold: \(part)
            """)
        let run = try f.sous(["run", "up.yaml"])
        #expect(run.status == 0, "\(run.stderr)")
        // An unfinished upload of the step's key that no state file knows (lost, or begun by a killed run), and
        // one of another key; a foreign object keeps the bucket (and so the uploads) for the check. (Keys
        // without '/': moto's signature check fails on a '/' in a query value such as ListMultipartUploads'
        // prefix; SousAWSTests list under a folder prefix against moto without signature checks.)
        _ = try moto.ask("create-upload sous-e2e-orphans weights.bin")
        _ = try moto.ask("create-upload sous-e2e-orphans weights.bin.other")
        _ = try moto.ask("put-object sous-e2e-orphans keep/me")
        let destroy = try f.sous(["destroy", "up.yaml", "--yes"])
        #expect(destroy.status == 0, "\(destroy.stderr)")
        let after = try f.state(bucket: "sous-e2e-orphans")
        #expect(!after.uploads.contains(["sous-e2e-orphans", "weights.bin"]), "\(after.uploads)")
        #expect(after.uploads.contains(["sous-e2e-orphans", "weights.bin.other"]), "\(after.uploads)")
        _ = try moto.ask("abort-uploads sous-e2e-orphans weights.bin.other")
        _ = try moto.ask("delete-object sous-e2e-orphans keep/me")
        _ = try moto.ask("delete-bucket sous-e2e-orphans")
    }

    @Test func lmiRecipeRunsEndToEndWithTheHubServerAndLeavesNothingBehind() throws {
        let f = try AWSStepsFixture()
        let hub = try HubServerForSteps(spec: Self.hubSpec, in: f.dir)
        f.extraEnv["HF_ENDPOINT"] = hub.endpoint
        let recipe = AWSStepsFixture.recipe("llama2-lmi.yaml")
        let bucket = "sous-e2e-lmi"
        let prefix = "hf-large-model-djl/org/tiny-chat"
        let params = [
            "-p", "instance_type=ml.m5.xlarge", "-p", "poll_interval=0.05", "-p", "model_id=org/tiny-chat-hf",
            "-p", "bucket=\(bucket)", "-p", "prefix=\(prefix)", "-p", "part_size=65536", "-p", "stream=false",
        ]
        let first = try f.sous(["run", recipe, "--keep"] + params)
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        let ran = AWSStepsFixture.statuses(first.stdout)
        #expect(ran.filter { $0.value == "ran" }.count == 13, "\(ran)")  // every step but the kept clean-ups

        // Weights and code read back byte-identical with boto3.
        var s = try f.state(bucket: bucket, prefix: prefix)
        let snapshot = try #require(f.outputs("llama2-lmi", "download")["path"] as? String)
        let local = try AWSStepsFixture.digests(snapshot)
        #expect(local.count == 4)  // README.md and the .bin shard are not in the recipe's patterns (safetensors only)
        let objects = s.objects[bucket] ?? [:]
        for (rel, sha) in local { #expect(objects["\(prefix)/model/\(rel)"]?.sha256 == sha, "\(rel)") }
        let tarball = try #require(f.outputs("llama2-lmi", "package")["path"] as? String)
        #expect(objects["\(prefix)/code/model.tar.gz"]?.sha256 == (try AWSStepsFixture.sha256Hex(tarball)))
        #expect(objects.count == 5)
        // Every object carries the sous tags, sent with the upload itself (x-amz-tagging on PutObject and
        // CreateMultipartUpload): found by the sous:workspace tag alone.
        #expect(Set(try f.state().objects[bucket]?.keys ?? [:].keys) == Set(objects.keys))

        // serving.properties points at the weights' prefix URI, keys in the notebook's order.
        let props = try String(contentsOfFile: "\(f.workspace)/llama2-lmi/work/chat_llama2_13b_hf/serving.properties", encoding: .utf8)
        #expect(props.split(separator: "\n").map { String($0.split(separator: "=")[0]) } == [
            "engine", "option.entryPoint", "option.tensor_parallel_degree", "option.low_cpu_mem_usage", "option.rolling_batch",
            "option.max_rolling_batch_size", "option.model_loading_timeout", "option.model_id", "option.paged_attention",
        ])
        #expect(props.contains("option.model_id=s3://\(bucket)/\(prefix)/model\n"))

        // Model, config (variant1, 3600 s timeouts) and endpoint.
        #expect(s.models.count == 1 && s.configs.count == 1 && s.endpoints.count == 1)
        let model = try #require(s.models.first)
        #expect(model.key.hasPrefix("Llama-2-13b-chat-lmi-streaming-"))
        #expect(model.value["model_data"] as? String == "s3://\(bucket)/\(prefix)/code/model.tar.gz")
        #expect(model.value["env"] as? [String: String] == ["MODEL_LOADING_TIMEOUT": "3600"])
        #expect((model.value["image"] as? String)?.hasSuffix("djl-inference:0.28.0-lmi10.0.0-cu124") == true)
        let config = try #require(s.configs.first)
        #expect(config.key == "\(model.key)-config")
        let variant = try #require((config.value["variants"] as? [[String: Any]])?.first)
        #expect(variant["VariantName"] as? String == "variant1")
        #expect(variant["ModelDataDownloadTimeoutInSeconds"] as? Int == 3600)
        #expect(variant["ContainerStartupHealthCheckTimeoutInSeconds"] as? Int == 3600)
        #expect(s.endpoints.first?.value["status"] as? String == "InService")

        let second = try f.sous(["run", recipe, "--keep"] + params)
        #expect(second.status == 0, "\(second.stderr)")
        // Only the effects run again: the preflight and the asks.
        #expect(
            AWSStepsFixture.statuses(second.stdout).filter { $0.value != "cached" && $0.value != "kept" } == ["preflight": "ran", "ask_1": "ran", "ask_2": "ran"],
            "\(second.stdout)")

        // The full run cleans up: no endpoint, config, model, or object under the prefix.
        let third = try f.sous(["run", recipe] + params)
        #expect(third.status == 0, "\(third.stdout)\n\(third.stderr)")
        #expect(AWSStepsFixture.statuses(third.stdout)["delete_s3"] == "ran")
        s = try f.state(bucket: bucket, prefix: prefix)
        #expect(s.endpoints.isEmpty && s.configs.isEmpty && s.models.isEmpty)
        #expect(s.objects[bucket]?.isEmpty ?? true, "\(s.objects)")
        // The bucket sous created is the one thing left; destroy removes it (it is empty).
        let destroy = try f.sous(["destroy", recipe, "--yes"])
        #expect(destroy.status == 0, "\(destroy.stderr)")
        #expect(!(try f.state()).buckets.contains(bucket))
    }

    @Test func withoutARoleTheDeployStopsWithAClearMessage() throws {
        let f = try Self.tgiFixture()
        let r = try f.sous(["run", AWSStepsFixture.recipe("llama2-tgi.yaml"), "--keep"] + f.tgiParams, env: ["SOUS_SAGEMAKER_ROLE": ""])
        #expect(r.status == 1)
        #expect(r.stderr.contains("no SageMaker execution role: give the step input 'role'"), "\(r.stderr)")
        #expect(r.stderr.contains("or set SOUS_SAGEMAKER_ROLE"))
        let bad = try f.sous(["run", AWSStepsFixture.recipe("llama2-tgi.yaml"), "--keep", "-p", "role=admin"] + f.tgiParams)
        #expect(bad.stderr.contains("'admin' is not an IAM role ARN"), "\(bad.stderr)")
        #expect(try f.state().endpoints.isEmpty)
    }

    @Test func identityIsRecheckedAndTheDefaultBucketIsKeptWhileItHoldsOthersObjects() throws {
        let f = try AWSStepsFixture()
        try f.write("ident.yaml", """
            name: ident
            steps:
              - id: me
                uses: aws.identity
              - id: bucket
                uses: s3.default-bucket
                with:
                  account: ${{ steps.me.outputs.account }}
                  region: ${{ steps.me.outputs.region }}
            """)
        let first = try f.sous(["run", "ident.yaml"])
        #expect(first.status == 0, "\(first.stderr)")
        let me = try f.outputs("ident", "me")
        #expect(me["account"] as? String == "123456789012")
        #expect((me["arn"] as? String)?.hasSuffix(":user/sous-e2e") == true)
        #expect(me["region"] as? String == "us-east-1")
        let bucket = try f.outputs("ident", "bucket")
        #expect(bucket["bucket"] as? String == "sagemaker-us-east-1-123456789012")
        #expect(bucket["created"] as? Bool == true)
        #expect(AWSStepsFixture.statuses(try f.sous(["run", "ident.yaml"]).stdout) == ["me": "cached", "bucket": "cached"])

        // Another region (or other credentials) and the identity step reruns.
        let plan = try f.sous(["plan", "ident.yaml"], env: ["AWS_REGION": "eu-west-1"])
        #expect(plan.stdout.contains("the AWS region changed: us-east-1 → eu-west-1"), "\(plan.stdout)")

        // The default bucket is shared: destroy keeps it while it holds objects sous did not upload.
        _ = try f.ask("put-object sagemaker-us-east-1-123456789012 other/thing.txt")
        let destroy = try f.sous(["destroy", "ident.yaml", "--yes"])
        #expect(destroy.status == 0, "\(destroy.stderr)")
        #expect(destroy.stderr.contains("kept bucket sagemaker-us-east-1-123456789012: it still holds objects"), "\(destroy.stderr)")
        #expect(try f.state().buckets.contains("sagemaker-us-east-1-123456789012"))
        _ = try f.ask("delete-object sagemaker-us-east-1-123456789012 other/thing.txt")
    }

    static let hubSpec = """
        {"repos": [{"id": "org/tiny-chat-hf", "files": [
          {"path": "config.json", "text": "{\\"hidden_size\\": 8}"},
          {"path": "tokenizer.model", "size": 5000, "seed": 1, "lfs": true},
          {"path": "model-00001-of-00002.safetensors", "size": 300000, "seed": 2, "lfs": true},
          {"path": "model-00002-of-00002.safetensors", "size": 200000, "seed": 3, "lfs": true},
          {"path": "pytorch_model.bin", "size": 1000, "seed": 4, "lfs": true},
          {"path": "README.md", "text": "not uploaded"}]}]}
        """
}
