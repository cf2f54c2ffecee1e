import Foundation
import SousAWS
import SousHTTP
import SousLocalCloud
import SousTestSupport
import Synchronization
import Testing

/// sous's own AWS clients (SousAWS) against an in-process local cloud.
struct Clients {
    let aws: AWSClient
    let s3: S3Client
    let sagemaker: SageMakerClient
    let runtime: SageMakerRuntimeClient

    init(_ cloud: LocalCloudFixture) throws {
        let config = try AWSConfiguration(environment: cloud.awsEnvironment)
        aws = AWSClient(
            configuration: config, region: "us-east-1",
            credentials: StaticCredentialsProvider(
                AWSCredentials(accessKeyId: cloud.credentials.accessKeyId, secretAccessKey: cloud.credentials.secretAccessKey)))
        s3 = S3Client(aws)
        sagemaker = SageMakerClient(aws)
        runtime = SageMakerRuntimeClient(aws: aws)
    }

    static let tgi = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.3.0-tgi2.0.2-gpu-py310-cu121-ubuntu22.04"
    static let lmi = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.28.0-lmi10.0.0-cu124"

    /// Uploads the fixture's fake model under s3://models/weights/.
    func uploadFakeModel(_ cloud: LocalCloudFixture) async throws {
        let dir = try cloud.writeFakeModel()
        try? await s3.createBucket("models")
        for f in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            _ = try await s3.putObject(bucket: "models", key: "weights/\(f)", body: .bytes(try Data(contentsOf: dir.appendingPathComponent(f))))
        }
    }

    /// Creates model + config + endpoint named `name` and polls until it leaves Creating.
    func deploy(_ name: String, image: String, env: [String: String] = [:], modelDataUrl: String? = nil, prefix: String? = nil) async throws
        -> SageMakerEndpoint
    {
        _ = try await sagemaker.createModel(
            SageMakerModelSpec(
                name: name, executionRoleArn: "arn:aws:iam::000000000000:role/x", image: image, modelDataUrl: modelDataUrl,
                modelDataS3Prefix: prefix, environment: env))
        _ = try await sagemaker.createEndpointConfig(
            name: name, variants: [SageMakerProductionVariant(modelName: name, instanceType: "ml.g5.xlarge")])
        _ = try await sagemaker.createEndpoint(name: name, configName: name)
        var e = try await sagemaker.describeEndpoint(name)
        let deadline = Date().addingTimeInterval(60)
        while e.status == "Creating" && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))  // poll DescribeEndpoint until the deadline
            e = try await sagemaker.describeEndpoint(name)
        }
        return e
    }

    func stream(_ name: String, _ payload: String) async throws -> Data {
        let out = try await runtime.invokeEndpointWithResponseStream(
            InvokeEndpointInput(endpointName: name, body: Data(payload.utf8), contentType: "application/json"))
        var all = Data()
        for try await part in out.payloadParts { all += part }
        return all
    }
}

/// Packs `files` (name → text) under a top-level folder `code/` into a tar.gz.
func makeTarball(_ files: [String: String], in dir: URL) throws -> Data {
    let root = dir.appendingPathComponent("tar-\(UUID().uuidString.prefix(6))")
    let code = root.appendingPathComponent("code")
    try FileManager.default.createDirectory(at: code, withIntermediateDirectories: true)
    for (n, t) in files { try t.write(to: code.appendingPathComponent(n), atomically: true, encoding: .utf8) }
    let out = root.appendingPathComponent("model.tar.gz")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/tar")
    p.arguments = ["-czf", out.path, "-C", root.path, "code"]
    try p.run()
    p.waitUntilExit()
    return try Data(contentsOf: out)
}

@Suite("Local cloud endpoints with sous's own clients", .serialized)
struct EndpointTests {
    @Test("Failed endpoints carry an actionable FailureReason: unknown image, model not found, bad serving.properties, not enough memory")
    func failureReasons() async throws {
        let cloud = try await LocalCloudFixture(memoryLimit: 1000)
        defer { cloud.stop() }
        let c = try Clients(cloud)
        try await c.uploadFakeModel(cloud)

        let unknown = try await c.deploy("unknown-image", image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own:latest")
        #expect(unknown.status == "Failed")
        #expect(unknown.failureReason?.contains("is not one the local cloud can run") == true)

        let missing = try await c.deploy("missing-model", image: Clients.tgi, env: ["HF_MODEL_ID": "org/not-there"])
        #expect(missing.status == "Failed")
        #expect(missing.failureReason?.contains("Model not found: org/not-there") == true)

        let tar = try makeTarball(["serving.properties": "engine=Python\nthis line is wrong\n"], in: cloud.dir)
        _ = try await c.s3.putObject(bucket: "models", key: "bad/model.tar.gz", body: .bytes(tar))
        let bad = try await c.deploy("bad-props", image: Clients.lmi, modelDataUrl: "s3://models/bad/model.tar.gz")
        #expect(bad.status == "Failed")
        #expect(bad.failureReason?.contains("line 2 is not `key=value`") == true)

        let big = try await c.deploy("too-big", image: Clients.tgi, env: ["HF_MODEL_ID": "/opt/ml/model"], prefix: "s3://models/weights/")
        #expect(big.status == "Failed")
        #expect(big.failureReason?.contains("Not enough memory") == true)

        // AWS's validation errors.
        await #expect(throws: (any Error).self) { _ = try await c.sagemaker.describeEndpoint("never-made") }
        do {
            _ = try await c.sagemaker.createEndpoint(name: "too-big", configName: "too-big")
            Issue.record("a duplicate endpoint was accepted")
        } catch {
            #expect("\(error)".contains("Cannot create already existing endpoint"))
        }
    }

    @Test("ModelStreamError when generation fails mid-stream; InvokeEndpoint answers ModelError 424 for bad input")
    func streamFailure() async throws {
        let cloud = try await LocalCloudFixture(loader: { _ in StoryGenerator(failAfter: 3) })
        defer { cloud.stop() }
        let c = try Clients(cloud)
        try await c.uploadFakeModel(cloud)
        let e = try await c.deploy("fails", image: Clients.tgi, env: ["HF_MODEL_ID": "/opt/ml/model"], prefix: "s3://models/weights/")
        #expect(e.status == "InService")
        do {
            _ = try await c.stream("fails", #"{"inputs": "x", "parameters": {"max_new_tokens": 10}, "stream": true}"#)
            Issue.record("the stream did not fail")
        } catch let err as SageMakerRuntimeError {
            #expect(err.code == "ModelStreamError")
            #expect(err.message.contains("broke on purpose"))
        }
        do {
            _ = try await c.runtime.invokeEndpoint(InvokeEndpointInput(endpointName: "fails", body: Data("not json".utf8), contentType: "application/json"))
            Issue.record("bad input was accepted")
        } catch let err as SageMakerRuntimeError {
            #expect(err.code == "ModelError")
            #expect(err.originalStatusCode == 422)
        }
    }

    @Test("Requests to one endpoint are queued, not lost; a client that disconnects cancels its generation")
    func queueAndCancel() async throws {
        let log = GenerationLog()
        let cloud = try await LocalCloudFixture(loader: { _ in StoryGenerator(holdAfter: 10, endless: true, log: log) })
        defer { cloud.stop() }
        let c = try Clients(cloud)
        try await c.uploadFakeModel(cloud)
        let e = try await c.deploy("q", image: Clients.lmi, env: ["HF_MODEL_ID": "/opt/ml/model"], modelDataUrl: nil, prefix: "s3://models/weights/")
        #expect(e.status == "InService")
        // Four concurrent requests: all complete with the whole document.
        let bodies = try await withThrowingTaskGroup(of: Data.self) { g in
            for _ in 0..<4 { g.addTask { try await c.stream("q", #"{"inputs": "x", "parameters": {"max_new_tokens": 6}}"#) } }
            return try await g.reduce(into: [Data]()) { $0.append($1) }
        }
        #expect(bodies.count == 4)
        for b in bodies {
            let o = try JSONSerialization.jsonObject(with: b) as? [String: Any]
            #expect(o?["generated_text"] as? String == StoryGenerator.text(6))
        }
        // A long generation whose client goes away (a boto3 process that reads three parts and exits) stops early.
        let before = log.tokens.load(ordering: .relaxed)
        let script = """
            import boto3, json, sys
            rt = boto3.client("sagemaker-runtime", endpoint_url=sys.argv[1], region_name="us-east-1")
            r = rt.invoke_endpoint_with_response_stream(EndpointName="q", ContentType="application/json",
                Body=json.dumps({"inputs": "x", "parameters": {"max_new_tokens": 100000}}))
            it = iter(r["Body"])
            for _ in range(3):
                next(it)
            print("READ3", flush=True)
            """
        let args = [TestPaths.python, "-c", script, cloud.url]
        // The credentials go through the environment, never the command line.
        let env = ProcessInfo.processInfo.environment.merging(cloud.awsEnvironment) { _, new in new }
        let printed = try await offPool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = args
            p.environment = env
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return text
        }
        #expect(printed.contains("READ3"))
        #expect(log.tokens.load(ordering: .relaxed) > before)
        // The client has exited while its generation is held after 10 tokens; let the generation go on: it
        // must notice the closed connection and stop long before its 100,000 tokens.
        log.gate.signal()
        let stopped = try await offPool {
            waitUntil(timeout: 20) { log.stopped.load(ordering: .acquiring) >= 1 }
        }
        #expect(stopped, "the generation did not notice its client was gone")
        #expect(log.tokens.load(ordering: .relaxed) - before < 50_000)
    }

    /// Every file under `dir` whose bytes hold `text`.
    static func files(under dir: URL, holding text: String) -> [String] {
        let needle = Data(text.utf8)
        let walk = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)
        return (walk?.allObjects as? [URL] ?? []).filter {
            (try? Data(contentsOf: $0))?.range(of: needle) != nil
        }.map(\.path)
    }

    static let canary = "hf_SealedCanary0123456789abcdefXYZ"

    @Test("A restarted server has every object and endpoint it had; endpoints load again and serve; a model's Environment is sealed on disk and whole after the restart")
    func restart() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-localcloud-restart")
        defer { try? FileManager.default.removeItem(at: dir) }
        var etag = ""
        let env = ["HF_MODEL_ID": "/opt/ml/model", "HF_TOKEN": Self.canary]
        do {
            let cloud = try await LocalCloudFixture(dir: dir)
            let c = try Clients(cloud)
            try await c.uploadFakeModel(cloud)
            etag = try await c.s3.putObject(bucket: "models", key: "notes/a.txt", body: .bytes(Data("kept".utf8)))
            let e = try await c.deploy("keep", image: Clients.tgi, env: env, prefix: "s3://models/weights/")
            #expect(e.status == "InService")
            #expect(try await c.sagemaker.describeModel("keep").environment == env, "DescribeModel returns it, as on AWS")
            cloud.stop()
            _ = await cloud.task.result
        }
        let data = dir.appendingPathComponent("data")
        #expect(Self.files(under: data, holding: Self.canary).isEmpty)
        #expect(Self.files(under: data, holding: "SealedCanary").isEmpty)
        #expect(Self.files(under: data.appendingPathComponent("sagemaker"), holding: "sealedEnvironment").count == 2, "the model and the endpoint's copy of it")
        let key = dir.appendingPathComponent("environment.key").path
        #expect((try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int) == 0o600)
        let again = try await LocalCloudFixture(dir: dir)
        defer { again.stop() }
        let c = try Clients(again)
        #expect(try await c.sagemaker.describeModel("keep").environment == env)
        let head = try await c.s3.headObject(bucket: "models", key: "notes/a.txt")
        #expect(head?.etag == etag)
        var e = try await c.sagemaker.describeEndpoint("keep")
        let deadline = Date().addingTimeInterval(30)
        while e.status != "InService" && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))  // poll until the reloaded endpoint is InService (deadline)
            e = try await c.sagemaker.describeEndpoint("keep")
        }
        #expect(e.status == "InService")
        let body = try await c.stream("keep", #"{"inputs": "x", "parameters": {"max_new_tokens": 3}, "stream": true}"#)
        #expect(String(decoding: body, as: UTF8.self).contains("\"generated_text\":\"Once upon a\""))
    }

    @Test("A model record written in plain text by an older sous is read, then rewritten sealed")
    func legacyRecordIsSealed() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-localcloud-legacy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let models = dir.appendingPathComponent("data/sagemaker/models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let legacy = """
            {"arn":"arn:aws:sagemaker:us-east-1:000000000000:model/old","container":{"environment":{"HF_TOKEN":"\(Self.canary)"},
            "image":"\(Clients.tgi)"},"created":0,"name":"old","tags":[]}
            """
        try Data(legacy.utf8).write(to: models.appendingPathComponent("old.json"))
        let cloud = try await LocalCloudFixture(dir: dir)
        defer { cloud.stop() }
        let c = try Clients(cloud)
        #expect(try await c.sagemaker.describeModel("old").environment == ["HF_TOKEN": Self.canary])
        #expect(Self.files(under: dir.appendingPathComponent("data"), holding: Self.canary).isEmpty)
        let text = try String(contentsOf: models.appendingPathComponent("old.json"), encoding: .utf8)
        #expect(text.contains("sealedEnvironment") && !text.contains("\"environment\""), "\(text)")
    }
}
