import Foundation
import SousAWS
import SousHTTP
import SousTestSupport
import Synchronization
import Testing

@Suite("SageMaker control plane")
struct SageMakerTests {
    @Test("TGI and LMI deploy + clean-up paths of the notebooks against moto (signed) leave nothing behind")
    func deployAndCleanUp() async throws {
        let moto = try await MotoFixture.start(auth: true)
        defer { moto.server.stop() }
        let sm = SageMakerClient(moto.client)
        let role = "arn:aws:iam::123456789012:role/sagemaker_execution_role"
        let date = Date(timeIntervalSince1970: 1_719_569_472.345)

        // TGI (HuggingFaceModel.deploy): model named after the image, config name = endpoint name.
        let tgiImage = try SageMakerImageURIs.uri(.huggingfaceLLM, version: "2.0.2", region: "us-east-1")
        let tgiEndpoint = SageMakerNames.nameFromBase("Llama-2-7b-chat-hf-streaming", date: date)
        let tgiModel = SageMakerNames.nameFromBase(SageMakerNames.imageBaseName(tgiImage), date: date)
        let env = ["HF_MODEL_ID": "meta-llama/Llama-2-7b-chat-hf", "SM_NUM_GPUS": "1", "MAX_INPUT_LENGTH": "2048",
                   "MAX_TOTAL_TOKENS": "4096", "HUGGING_FACE_HUB_TOKEN": "hf_secret"]
        let modelArn = try await sm.createModel(SageMakerModelSpec(name: tgiModel, executionRoleArn: role, image: tgiImage, environment: env))
        #expect(modelArn.hasSuffix("model/\(tgiModel)"))
        try await sm.createEndpointConfig(name: tgiEndpoint, variants: [
            SageMakerProductionVariant(modelName: tgiModel, instanceType: "ml.m5.xlarge",
                                       containerStartupHealthCheckTimeoutInSeconds: 300,
                                       routingStrategy: "LEAST_OUTSTANDING_REQUESTS")
        ])
        let endpointArn = try await sm.createEndpoint(name: tgiEndpoint, configName: tgiEndpoint, tags: ["sous:recipe": "tgi"])
        let ticks = Mutex(0)
        let e = try await sm.waitForEndpoint(tgiEndpoint, interval: .milliseconds(10), budget: .seconds(5),
                                             onTick: { _, _ in ticks.withLock { $0 += 1 } })
        #expect(e.status == "InService")
        #expect(e.configName == tgiEndpoint)
        #expect(ticks.withLock { $0 } >= 1)
        let model = try await sm.describeModel(tgiModel)
        #expect(model.environment == env)
        #expect(model.image == tgiImage)
        try await sm.addTags(resourceArn: endpointArn, tags: ["team": "ml"])
        let tags = try await sm.listTags(resourceArn: endpointArn)
        #expect(tags["team"] == "ml" && tags["sous:recipe"] == "tgi")

        // LMI (boto3 path): ModelDataUrl code artifact, variant1 with the 3600 s timeouts.
        let lmiImage = try SageMakerImageURIs.uri(.djlLMI, version: "0.28.0", region: "us-east-1")
        let lmiModel = SageMakerNames.nameFromBase("Llama-2-7b-chat-lmi-streaming", date: date)
        let lmiConfig = "\(lmiModel)-config"
        let lmiEndpoint = SageMakerNames.nameFromBase(lmiModel, date: date)
        try await sm.createModel(SageMakerModelSpec(
            name: lmiModel, executionRoleArn: role, image: lmiImage,
            modelDataUrl: "s3://sagemaker-us-east-1-123456789012/hf-large-model-djl/code/model.tar.gz",
            environment: ["MODEL_LOADING_TIMEOUT": "3600"]))
        try await sm.createEndpointConfig(name: lmiConfig, variants: [
            SageMakerProductionVariant(variantName: "variant1", modelName: lmiModel, instanceType: "ml.m5.xlarge",
                                       initialInstanceCount: 1, modelDataDownloadTimeoutInSeconds: 3600,
                                       containerStartupHealthCheckTimeoutInSeconds: 3600,
                                       routingStrategy: "LEAST_OUTSTANDING_REQUESTS")
        ])
        try await sm.createEndpoint(name: lmiEndpoint, configName: lmiConfig)
        try await sm.waitForEndpoint(lmiEndpoint, interval: .milliseconds(10), budget: .seconds(5))
        let config = try await sm.describeEndpointConfig(lmiConfig)
        #expect(config.variants.first?.modelName == lmiModel)
        #expect(config.variants.first?.variantName == "variant1")
        #expect(config.variants.first?.modelDataDownloadTimeoutInSeconds == 3600)
        #expect(config.variants.first?.containerStartupHealthCheckTimeoutInSeconds == 3600)

        let listed = try await sm.listEndpoints().map(\.name)
        #expect(Set(listed) == [tgiEndpoint, lmiEndpoint])
        #expect(try await sm.listEndpoints(nameContains: "lmi").map(\.name) == [lmiEndpoint])

        // Clean up: endpoint → config → model, discovered from the endpoint as the inference notebook does.
        let d1 = try await sm.deleteDeployment(endpointName: tgiEndpoint)
        #expect(d1 == .init(endpoint: tgiEndpoint, endpointConfig: tgiEndpoint, models: [tgiModel]))
        let d2 = try await sm.deleteDeployment(endpointName: lmiEndpoint)
        #expect(d2 == .init(endpoint: lmiEndpoint, endpointConfig: lmiConfig, models: [lmiModel]))
        #expect(try await sm.listEndpoints().isEmpty)
        try await sm.waitForEndpointDeleted(tgiEndpoint, interval: .milliseconds(10), budget: .seconds(5))
        do {
            _ = try await sm.describeModel(lmiModel)
            Issue.record("model should be gone")
        } catch let e as AWSError {
            #expect(e.code == "ValidationException")
            #expect(e.message.contains("Could not find model"))
        }
        // A second clean-up is a no-op.
        #expect(try await sm.deleteDeployment(endpointName: tgiEndpoint) == .init(endpoint: nil, endpointConfig: nil, models: []))
    }

    @Test("waitForEndpoint: Creating → Failed gives the FailureReason; a stuck endpoint times out clearly")
    func waitOutcomes() async throws {
        let server = try await startFakeAWS()
        defer { server.stop() }
        let sm = try Self.client(of: server)
        func status(_ s: String, _ reason: String? = nil) -> [String: any Sendable] {
            var body = #"{"EndpointName":"ep","EndpointArn":"arn:ep","EndpointConfigName":"ep","EndpointStatus":"\#(s)""#
            if let reason { body += #","FailureReason":"\#(reason)""# }
            return ["status": 200, "body": body + "}"]
        }
        let reason = "The primary container for production variant AllTraffic did not pass the ping health check."
        let steps: [[String: any Sendable]] = [status("Creating"), status("Creating"), status("Failed", reason)]
        var r = HTTPRequest(method: "POST", url: URL(string: "http://127.0.0.1:\(server.port)/__script")!,
                            body: .bytes(try JSONSerialization.data(withJSONObject: steps)))
        _ = try await HTTPClient.shared.send(r)
        let sleeps = Mutex(0)
        do {
            try await sm.waitForEndpoint("ep", interval: .seconds(30), budget: .seconds(3600),
                                         sleep: { _ in sleeps.withLock { $0 += 1 } })
            Issue.record("expected a failure")
        } catch let e as SageMakerWaitError {
            #expect(e.kind == .failed(reason: reason))
            #expect(e.description.hasPrefix("SageMaker endpoint ep failed to deploy: \(reason)"))
            #expect(e.description.contains("container_startup_health_check_timeout"))
        }
        #expect(sleeps.withLock { $0 } == 2)

        let creating = (0..<12).map { _ in status("Creating") }  // polls ramp 1, 2, 4, … s up to the interval
        r.body = .bytes(try JSONSerialization.data(withJSONObject: creating))
        _ = try await HTTPClient.shared.send(r)
        do {
            try await sm.waitForEndpoint("ep", interval: .seconds(30), budget: .seconds(90), sleep: { _ in })
            Issue.record("expected a timeout")
        } catch let e as SageMakerWaitError {
            #expect(e.kind == .timedOut(lastStatus: "Creating", budget: .seconds(90)))
            #expect(e.description == "SageMaker endpoint ep was still Creating after 90 s of waiting; it may still come up: check it with DescribeEndpoint or raise the wait budget.")
        }
    }
}

extension SageMakerTests {
    /// A SageMaker client of the scripted fake AWS server.
    static func client(of server: TestServerProcess) throws -> SageMakerClient {
        let env = ["AWS_ENDPOINT_URL": "http://127.0.0.1:\(server.port)", "HOME": "/nonexistent"]
        return SageMakerClient(
            AWSClient(
                configuration: try AWSConfiguration(environment: env), region: "us-east-1",
                credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKID", secretAccessKey: "s"))))
    }

    @Test(
        "a zero poll interval is raised to the floor: waiting for a deletion keeps to its budget, no busy loop",
        .timeLimit(.minutes(10)))
    func pollIntervalFloor() async throws {
        let server = try await startFakeAWS()
        defer { server.stop() }
        let sm = try Self.client(of: server)
        let deleting: [String: any Sendable] = [
            "status": 200, "body": #"{"EndpointName":"ep","EndpointArn":"arn:ep","EndpointConfigName":"ep","EndpointStatus":"Deleting"}"#,
        ]
        let r = HTTPRequest(method: "POST", url: URL(string: "http://127.0.0.1:\(server.port)/__script")!,
                            body: .bytes(try JSONSerialization.data(withJSONObject: Array(repeating: deleting, count: 5000))))
        _ = try await HTTPClient.shared.send(r)
        // Without the floor this wait never ends (the time waited never grows): the time limit fails it then.
        // (No watchdog timer racing it: on a starved machine a timer fired before the wait's first call.)
        let outcome: String
        do {
            try await sm.waitForEndpointDeleted("ep", interval: .zero, budget: .milliseconds(400))
            outcome = "returned"
        } catch let e as SageMakerWaitError {
            outcome = "\(e.kind)"
        }
        #expect(outcome == "\(SageMakerWaitError.Kind.timedOut(lastStatus: "Deleting", budget: .milliseconds(400)))")
        let calls = try JSONSerialization.jsonObject(
            with: try await HTTPClient.shared.send(HTTPRequest(url: URL(string: "http://127.0.0.1:\(server.port)/__log")!)).body) as? [Any]
        // At most one call per 50 ms of the 0.4 s budget (and the first), however slow the machine.
        #expect((calls?.count ?? 0) <= 10, "\(calls?.count ?? 0) DescribeEndpoint calls in 0.4 s")
    }
}

@Suite("Image URIs and names")
struct ImageURITests {
    @Test("TGI and LMI images resolve per region, including the non-default ECR accounts")
    func images() throws {
        #expect(try SageMakerImageURIs.uri(.huggingfaceLLM, version: "2.0.2", region: "us-east-1")
                == "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.3.0-tgi2.0.2-gpu-py310-cu121-ubuntu22.04")
        #expect(try SageMakerImageURIs.uri(.huggingfaceLLM, version: "1.0.3", region: "af-south-1")
                == "626614931356.dkr.ecr.af-south-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.0.1-tgi1.0.3-gpu-py39-cu118-ubuntu20.04")
        #expect(try SageMakerImageURIs.uri(.huggingfaceLLM, version: "2.0.2", region: "ap-east-1").hasPrefix("871362719292."))
        #expect(try SageMakerImageURIs.uri(.djlLMI, version: "0.28.0", region: "eu-west-1")
                == "763104351884.dkr.ecr.eu-west-1.amazonaws.com/djl-inference:0.28.0-lmi10.0.0-cu124")
        #expect(try SageMakerImageURIs.uri(.djlDeepSpeed, version: "0.25.0", region: "us-west-2")
                == "763104351884.dkr.ecr.us-west-2.amazonaws.com/djl-inference:0.25.0-deepspeed0.11.0-cu118")
        #expect(try SageMakerImageURIs.uri(.djlLMI, version: "0.28.0", region: "cn-north-1")
                == "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/djl-inference:0.28.0-lmi10.0.0-cu124")
        let commercial = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
                          "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1", "ap-northeast-1", "ap-northeast-2",
                          "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-south-1", "sa-east-1", "af-south-1",
                          "ap-east-1", "me-south-1", "il-central-1", "ap-southeast-3", "ca-west-1"]
        for fw in SageMakerImageURIs.Framework.allCases {
            for v in SageMakerImageURIs.knownVersions(fw) {
                for region in commercial { #expect(throws: Never.self) { try SageMakerImageURIs.uri(fw, version: v, region: region) } }
            }
        }
        #expect(SageMakerImageURIs.regions(.huggingfaceLLM, version: "2.0.2").count == 33)
        #expect(throws: AWSConfigError.self) { try SageMakerImageURIs.uri(.djlLMI, version: "0.99.0", region: "us-east-1") }
        #expect(throws: AWSConfigError.self) { try SageMakerImageURIs.uri(.djlDeepSpeed, version: "0.25.0", region: "mars-1") }
    }

    @Test("nameFromBase matches sagemaker.utils.name_from_base (39-char base, UTC millisecond stamp)")
    func names() {
        let date = Date(timeIntervalSince1970: 1_719_569_472.345)  // 2024-06-28 10:11:12.345 UTC
        #expect(SageMakerNames.timestamp(date) == "2024-06-28-10-11-12-345")
        #expect(SageMakerNames.nameFromBase("Llama-2-7b-chat-hf-streaming", date: date) == "Llama-2-7b-chat-hf-streaming-2024-06-28-10-11-12-345")
        let model = SageMakerNames.nameFromBase("Llama-2-7b-chat-lmi-streaming", date: date)
        let endpoint = SageMakerNames.nameFromBase(model, date: date)
        #expect(endpoint == "Llama-2-7b-chat-lmi-streaming-2024-06-2-2024-06-28-10-11-12-345")
        #expect(endpoint.count == 63)
        #expect(SageMakerNames.nameFromBase("Llama-2-13b-chat-lmi-streaming", date: date).count <= 63)
        #expect(SageMakerNames.imageBaseName("763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.3.0") == "huggingface-pytorch-tgi-inference")
    }
}
