import Foundation
import SousLLM
import SousLocalCloud
import SousTestSupport
import Synchronization

/// A deterministic generator for tests: it "generates" the words of a fixed story (with multi-byte
/// characters, quotes and newlines so every output format and cut is exercised).
struct StoryGenerator: TextGenerator {
    static let story = ["Once", " upon", " a", " time,", " a", " tiny", " ☁️", " cloud", " said", " \"héllo\"", "\n", "and", " rained", "."]
    var failAfter: Int? = nil
    /// After this many tokens, waits for `log.gate` (the disconnect test opens it once its client is gone).
    var holdAfter: Int? = nil
    /// Never ends on its own (cycles the story) — for the disconnect test.
    var endless = false
    var log: GenerationLog? = nil

    var memoryBytes: UInt64 { 1024 }
    func tokenCount(_ text: String) -> Int { max(1, text.split(separator: " ").count) }

    func generate(prompt: String, parameters: SamplingParameters, onToken: (TokenEvent) -> Bool) throws -> GenerationFinish {
        log?.started.add(1, ordering: .relaxed)
        for i in 0..<parameters.maxNewTokens {
            if let failAfter, i == failAfter { throw StoryFailure() }
            if let holdAfter, i == holdAfter { _ = log?.gate.wait(timeout: .now() + 60) }  // the condition, with a deadline
            if i == Self.story.count && !endless { return .eosToken }
            log?.tokens.add(1, ordering: .relaxed)
            let w = Self.story[i % Self.story.count]
            guard onToken(TokenEvent(id: 100 + i % Self.story.count, text: w, logprob: -0.5)) else {
                log?.stopped.add(1, ordering: .releasing)
                return .length
            }
        }
        return .length
    }

    static func text(_ n: Int) -> String { story.prefix(n).joined() }
}

struct StoryFailure: Error, CustomStringConvertible {
    var description: String { "the story generator broke on purpose" }
}

/// Counts generations started, tokens made, and generations stopped by their consumer (for the disconnect test).
final class GenerationLog: Sendable {
    let started = Atomic<Int>(0)
    let tokens = Atomic<Int>(0)
    /// Generations that ended because the server stopped taking tokens (their client went away).
    let stopped = Atomic<Int>(0)
    /// Opened by the test (signal) to let a held generation go on.
    let gate = DispatchSemaphore(value: 0)
}

/// A local cloud running in-process on 127.0.0.1:0 with its data in a temporary folder.
final class LocalCloudFixture: Sendable {
    let dir: URL
    let server: LocalCloudServer
    let port: Int
    let credentials: LocalCloudCredentials
    let task: Task<Void, any Error>

    init(
        dir: URL? = nil, credentials: LocalCloudCredentials = .generate(), loader: @escaping ModelLoader = { _ in StoryGenerator() },
        memoryLimit: UInt64? = nil, hubEnvironment: [String: String] = ["HF_HUB_OFFLINE": "1"]
    ) async throws {
        let d = try dir ?? TestPaths.makeTemporaryDirectory("sous-localcloud")
        self.dir = d
        self.credentials = credentials
        var config = LocalCloudConfiguration(dataDirectory: d.appendingPathComponent("data"), credentials: credentials, modelLoader: loader)
        config.memoryLimit = memoryLimit
        config.hubEnvironment = hubEnvironment.merging(["HF_HUB_CACHE": d.appendingPathComponent("hf").path]) { a, _ in a }
        let server = try await LocalCloudServer(configuration: config)
        self.server = server
        let (stream, cont) = AsyncStream.makeStream(of: Int.self)
        task = Task { try await server.run(onReady: { cont.yield($0); cont.finish() }) }
        var it = stream.makeAsyncIterator()
        guard let p = await it.next() else { throw HarnessError( "the local cloud did not start") }
        port = p
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// The environment that points AWS clients at this server.
    var awsEnvironment: [String: String] {
        [
            "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": credentials.accessKeyId, "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey,
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
        ]
    }

    /// Writes a fake model snapshot folder (config.json + a small safetensors file) at `dir/model`.
    func writeFakeModel() throws -> URL {
        let m = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: m, withIntermediateDirectories: true)
        try Data("{\"max_position_embeddings\": 64}".utf8).write(to: m.appendingPathComponent("config.json"))
        try Data(repeating: 7, count: 4096).write(to: m.appendingPathComponent("model.safetensors"))
        try Data("{}".utf8).write(to: m.appendingPathComponent("tokenizer.json"))
        return m
    }

    func stop() {
        task.cancel()
    }
}

/// Runs blocking work on its own thread: the in-process server needs the (2-thread) cooperative pool free.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { cont in
        Thread.detachNewThread {
            do { cont.resume(returning: try body()) } catch { cont.resume(throwing: error) }
        }
    }
}

/// A JSON object crossing threads.
struct JSONBox: @unchecked Sendable {
    // @unchecked: the dictionary is created once and only read afterwards.
    let value: [String: Any]
}

/// Runs Tests/python/localcloud_boto3.py SCENARIO against `cloud` (off the cooperative pool) and returns its RESULT.
func runBoto3(_ cloud: LocalCloudFixture, _ scenario: String) async throws -> [String: Any] {
    try await offPool { JSONBox(value: try runBoto3Blocking(cloud, scenario)) }.value
}

func runBoto3Blocking(_ cloud: LocalCloudFixture, _ scenario: String) throws -> [String: Any] {
    let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/localcloud_boto3.py").path
    var env = ProcessInfo.processInfo.environment
    for k in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"] { env.removeValue(forKey: k) }
    env["AWS_CONFIG_FILE"] = "/dev/null"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    // The credentials go through the environment, never the command line.
    env["AWS_ACCESS_KEY_ID"] = cloud.credentials.accessKeyId
    env["AWS_SECRET_ACCESS_KEY"] = cloud.credentials.secretAccessKey
    let r = try runProcess(TestPaths.python, [script, cloud.url, cloud.dir.path, scenario], environment: env)
    guard r.status == 0, let line = r.stdout.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }) else {
        throw HarnessError("boto3 scenario \(scenario) failed (\(r.status)):\n\(r.stdout)\n\(r.stderr)")
    }
    let obj = try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any]
    return obj ?? [:]
}

/// What a child process printed and how it ended.
struct ProcessResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `executable ARGS` (through `/usr/bin/env`) with `environment`, draining both pipes, and waits for it.
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [executable] + arguments
    p.environment = environment
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Drain both pipes concurrently so a chatty child never blocks.
    let errData = Mutex(Data())
    let t = Thread { errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
    t.start()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    _ = waitUntil(timeout: 10) { !t.isExecuting }
    return ProcessResult(
        status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
        stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
