import Foundation
import SousTestSupport
import Testing

/// The recorded answer: ASCII, quotes, newlines, accents, CJK, emoji (a ZWJ sequence), as the notebooks' emails.
let invokeTokens = [
    "Subject", ":", " AnyCloud", " 🚀", " launch", "\n\n", "Dear", " Alice", ",", " use", " \"EARLYB1RD\"", " for",
    " 20%", " off", " — ", "日本語", " 👩‍💻", " café", " back\\slash", ".",
]

/// A loopback SageMaker Runtime (Tests/python/invoke_server.py) that checks SigV4 signatures made with a
/// static test key, serves scenarios and records every request.
final class InvokeServer {
    let dir: URL
    let server: TestServerProcess
    static let accessKey = "AKIDINVOKETEST"
    static let secret = "invoke/test+SECRET/key0000000000000000000"

    init(scenarios: [String: Any]) throws {
        dir = try TestPaths.makeTemporaryDirectory("sous-invoke")
        try JSONSerialization.data(withJSONObject: scenarios).write(to: dir.appendingPathComponent("scenarios.json"))
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/invoke_server.py").path
        server = try TestServerProcess(executable: TestPaths.python, arguments: [script, dir.path])
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    /// The environment `sous` needs to reach this server, like a user's AWS settings.
    var env: [String: String] {
        [
            "AWS_ACCESS_KEY_ID": Self.accessKey, "AWS_SECRET_ACCESS_KEY": Self.secret, "AWS_REGION": "us-west-2",
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://127.0.0.1:\(server.port)",
            "AWS_CONFIG_FILE": "/nonexistent/config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
    }

    struct Request {
        var endpoint: String
        var operation: String
        var headers: [String: String]
        var body: String
        var signatureOK: Bool
        var problem: String?
        /// The body's `inputs`, `parameters` and `stream`.
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
        var inputs: String { json["inputs"] as? String ?? "" }
    }

    /// Every request received so far, in order.
    var requests: [Request] {
        guard let text = try? String(contentsOf: dir.appendingPathComponent("requests.jsonl"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Request(
                endpoint: o["endpoint"] as? String ?? "", operation: o["operation"] as? String ?? "",
                headers: o["headers"] as? [String: String] ?? [:], body: o["body"] as? String ?? "",
                signatureOK: o["signature_ok"] as? Bool ?? false, problem: o["signature_problem"] as? String)
        }
    }

    /// The notebooks' `build_llama2_prompt(messages)`, computed by the Python original.
    static func llama2(_ messages: [(String, String)]) throws -> String {
        let list = messages.map { ["role": $0.0, "content": $0.1] }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: list), as: UTF8.self)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [TestPaths.python, TestPaths.packageRoot.appendingPathComponent("Tests/python/invoke_server.py").path, "--llama2", json]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: out, as: UTF8.self)
    }
}

/// `sous chat` with a stdin the test writes to line by line, and signals.
final class ChatProcess: @unchecked Sendable {
    // @unchecked: the buffers are guarded by `lock`.
    let process = Process()
    let stdin = Pipe()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    init(_ args: [String], env: [String: String], cwd: URL) throws {
        process.executableURL = URL(fileURLWithPath: SousBinary.path)
        process.arguments = args
        process.currentDirectoryURL = cwd
        var e = ProcessInfo.processInfo.environment
        e["NO_COLOR"] = "1"
        for (k, v) in env { e[k] = v }
        process.environment = e
        let o = Pipe(), r = Pipe()
        process.standardOutput = o
        process.standardError = r
        process.standardInput = stdin
        for (pipe, isOut) in [(o, true), (r, false)] {
            pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
                let d = h.availableData
                guard let self, !d.isEmpty else { h.readabilityHandler = nil; return }
                self.lock.lock()
                if isOut { self.out.append(d) } else { self.err.append(d) }
                self.lock.unlock()
            }
        }
        try process.run()
    }

    var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: err, as: UTF8.self) }
    func send(_ text: String) { stdin.fileHandleForWriting.write(Data(text.utf8)) }

    func finish() -> Int32 {
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        // Let the last output drain (poll until the pipes are quiet, bounded by a deadline).
        var last = -1
        _ = waitUntil(timeout: 2) {
            let n = self.stdout.utf8.count + self.stderr.utf8.count
            defer { last = n }
            return n == last
        }
        return process.terminationStatus
    }
}

@Suite("sagemaker.invoke-stream, sous invoke and sous chat against a loopback SageMaker Runtime", .serialized)
struct InvokeEndToEndTests {
    let expected = invokeTokens.joined()
    static let system = "You are Mr.MightyMark, an email marketing agent at AnyCompany. "
    static let ask = "Write a launch email to Alice Smith about AnyCloud Internet Service, coupon EARLYB1RD."

    func recipe(endpoint: String, parameters: String = "{max_new_tokens: 256, temperature: 0.9, top_p: 0.6, top_k: 50, repetition_penalty: 1.03, do_sample: true, stop: [\"</s>\"], return_full_text: false, details: true}", extra: String = "") -> String {
        """
        name: asking
        steps:
          - id: ask
            uses: sagemaker.invoke-stream
            with:
              endpoint: \(endpoint)
              system: "\(Self.system)"
              user: "\(Self.ask)"
              parameters: \(parameters)
        \(extra)
        """
    }

    func recordMarkdown(_ ws: URL) throws -> String {
        let runs = ws.appendingPathComponent("workspace/asking/runs")
        let ids = try FileManager.default.contentsOfDirectory(atPath: runs.path).sorted()
        return try String(contentsOf: runs.appendingPathComponent(ids.last ?? "").appendingPathComponent("record.md"), encoding: .utf8)
    }

    func stepOutputs(_ jsonLines: String) -> [String: Any] {
        for line in jsonLines.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            if o["event"] as? String == "step_finished", o["step"] as? String == "ask" { return o["outputs"] as? [String: Any] ?? [:] }
        }
        return [:]
    }

    @Test("a recipe step prints exactly the recorded text (TGI SSE, LMI document, JSON Lines), outputs its stats, records the transcript; --step asks again",
          arguments: ["tgi", "lmi", "jsonlines"])
    func recipeStep(format: String) throws {
        let server = try InvokeServer(scenarios: ["\(format)-ep": ["format": format, "tokens": invokeTokens, "details": true, "seed": 3]])
        let ws = try TestPaths.makeTemporaryDirectory("sous-invoke-ws")
        defer { try? FileManager.default.removeItem(at: ws) }
        let container = format == "tgi" ? "tgi" : "lmi"
        try recipe(endpoint: "\(format)-ep", extra: "      container: \(container)")
            .write(to: ws.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)

        let first = try SousBinary.run(["run", "r.yaml"], cwd: ws, env: server.env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("sagemaker.invoke-stream\n" + expected + "\n"), "\(first.stdout)")
        let record = try recordMarkdown(ws)
        #expect(record.contains(expected), "\(record)")

        // The request: notebook payload in the container's dialect, signed, with accept_eula.
        var reqs = server.requests
        try #require(reqs.count == 1)
        let r = reqs[0]
        #expect(r.signatureOK, "\(r.problem ?? "")")
        #expect(r.operation == "invocations-response-stream")
        #expect(r.headers["x-amzn-sagemaker-custom-attributes"] == "accept_eula=true")
        #expect(try r.inputs == InvokeServer.llama2([("system", Self.system), ("user", Self.ask)]))
        let params = r.json["parameters"] as? [String: Any] ?? [:]
        #expect(params["max_new_tokens"] as? Int == 256)
        if format == "tgi" {
            #expect(r.json["stream"] as? Bool == true)
            #expect(params["stop"] as? [String] == ["</s>"])
            #expect(r.body.hasPrefix(#"{"inputs": "<s>[INST] <<SYS>>\nYou are Mr.MightyMark"#))
        } else {
            #expect(r.json["stream"] == nil)
            #expect(params["stop_sequences"] as? [String] == ["</s>"])
        }

        // An effect step is never cached: --step ask asks again, and the outputs hold the stats.
        let again = try SousBinary.run(["run", "r.yaml", "--step", "ask", "--json"], cwd: ws, env: server.env)
        #expect(again.status == 0, "\(again.stderr)")
        reqs = server.requests
        #expect(reqs.count == 2)
        #expect(reqs.last?.signatureOK == true)
        let outputs = stepOutputs(again.stdout)
        #expect(outputs["text"] as? String == expected)
        let tokens = outputs["tokens"] as? Int ?? 0
        switch format {
        case "tgi":
            #expect(tokens == invokeTokens.count + 1)  // TGI's generated_tokens counts the </s>
            #expect(outputs["finish_reason"] as? String == "eos_token")
        case "jsonlines":
            #expect(tokens == invokeTokens.count)
            #expect(outputs["finish_reason"] as? String == "stop")
        default:
            #expect(tokens > 0)
            #expect(outputs["finish_reason"] as? String == "stop")
        }
        #expect((outputs["time_to_first_token_s"] as? Double ?? -1) >= 0)
        #expect((outputs["tokens_per_second"] as? Double ?? -1) >= 0)
    }

    @Test("an invalid top_p for TGI fails before any request, in a recipe and in sous invoke")
    func invalidParametersSendNothing() throws {
        let server = try InvokeServer(scenarios: ["tgi-ep": ["format": "tgi", "tokens": invokeTokens]])
        let ws = try TestPaths.makeTemporaryDirectory("sous-invoke-ws")
        defer { try? FileManager.default.removeItem(at: ws) }
        try recipe(endpoint: "tgi-ep", parameters: "{top_p: 1.0, max_new_tokens: 64}")
            .write(to: ws.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        let run = try SousBinary.run(["run", "r.yaml"], cwd: ws, env: server.env)
        #expect(run.status == 1)
        #expect(run.stderr.contains("invalid generation parameter top_p = 1.0 for TGI"), "\(run.stderr)")
        #expect(run.stderr.contains("nothing was sent"), "\(run.stderr)")
        let cli = try SousBinary.run(["invoke", "tgi-ep", "--prompt", "hi", "--top-p", "1.5"], cwd: ws, env: server.env)
        #expect(cli.status == 2)
        #expect(cli.stderr.contains("top_p = 1.5"), "\(cli.stderr)")
        let unknown = recipe(endpoint: "tgi-ep", parameters: "{topp: 0.5}")
        try unknown.write(to: ws.appendingPathComponent("r2.yaml"), atomically: true, encoding: .utf8)
        let bad = try SousBinary.run(["run", "r2.yaml"], cwd: ws, env: server.env)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("unknown generation parameter 'topp'"), "\(bad.stderr)")
        #expect(server.requests.isEmpty, "the server received \(server.requests.count) request(s)")
    }

    @Test("a ModelStreamError mid-stream exits 1 with the partial text printed and recorded; a 424 ModelError is clear")
    func errors() throws {
        let partial = invokeTokens.prefix(5).joined()
        let server = try InvokeServer(scenarios: [
            "broken-ep": [
                "format": "tgi", "tokens": invokeTokens, "error_after": 5,
                "error": ["type": "ModelStreamError", "message": "Your model primary did not complete sending the inference response in the allotted time.", "error_code": "ModelInvocationTimeExceeded"],
            ],
            "tgi-error-ep": ["format": "tgi", "tokens": invokeTokens, "error_after": 3, "tgi_error": "Request failed during generation: Server error: CUDA out of memory"],
            "bad-ep": [
                "status": 424,
                "headers": ["x-amzn-ErrorType": "ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/"],
                "body": #"{"ErrorCode":"CLIENT_ERROR_FROM_MODEL","LogStreamArn":"arn:aws:logs:us-west-2:123:log-group:/aws/sagemaker/Endpoints/bad-ep","Message":"Received client error (422) from primary","OriginalMessage":"Input validation error: inputs tokens + max_new_tokens must be <= 4096","OriginalStatusCode":422}"#,
            ],
        ])
        let ws = try TestPaths.makeTemporaryDirectory("sous-invoke-ws")
        defer { try? FileManager.default.removeItem(at: ws) }
        try recipe(endpoint: "broken-ep").write(to: ws.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        let run = try SousBinary.run(["run", "r.yaml"], cwd: ws, env: server.env)
        #expect(run.status == 1)
        #expect(run.stdout.contains(partial), "\(run.stdout)")
        #expect(!run.stdout.contains("Dear"))
        #expect(run.stderr.contains("ModelStreamError, ModelInvocationTimeExceeded"), "\(run.stderr)")
        #expect(run.stderr.contains("did not complete sending the inference response"))
        #expect(run.stderr.contains("5 tokens were printed before it"), "\(run.stderr)")
        #expect(try recordMarkdown(ws).contains(partial))

        let cli = try SousBinary.run(["invoke", "broken-ep", "--prompt", "hi"], cwd: ws, env: server.env)
        #expect(cli.status == 1)
        #expect(cli.stdout == partial + "\n")
        #expect(cli.stderr.contains("ModelStreamError"))

        let bad = try SousBinary.run(["invoke", "bad-ep", "--prompt", "hi"], cwd: ws, env: server.env)
        #expect(bad.status == 1)
        #expect(bad.stdout.isEmpty)
        #expect(bad.stderr.contains("ModelError, HTTP 424; the container answered 422"), "\(bad.stderr)")
        #expect(bad.stderr.contains("inputs tokens + max_new_tokens must be <= 4096"))
        #expect(bad.stderr.contains("log-group:/aws/sagemaker/Endpoints/bad-ep"))
        let inStream = try SousBinary.run(["invoke", "tgi-error-ep", "--prompt", "hi"], cwd: ws, env: server.env)
        #expect(inStream.status == 1)
        #expect(inStream.stdout == invokeTokens.prefix(3).joined() + "\n")
        #expect(inStream.stderr.contains("the model container reported an error in its output: Request failed during generation: Server error: CUDA out of memory"), "\(inStream.stderr)")
        #expect(server.requests.allSatisfy { $0.signatureOK })
    }

    @Test("sous invoke prints the answer and time to first token; --json prints token objects and a summary; --no-stream")
    func invoke() throws {
        let server = try InvokeServer(scenarios: ["tgi-ep": ["format": "tgi", "tokens": invokeTokens, "seed": 9]])
        let ws = try TestPaths.makeTemporaryDirectory("sous-invoke-ws")
        defer { try? FileManager.default.removeItem(at: ws) }
        let r = try SousBinary.run(["invoke", "tgi-ep", "--prompt", "Hello there", "--system", "Be brief.", "--temperature", "0.9", "--top-p", "0.6"], cwd: ws, env: server.env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == expected + "\n")
        #expect(r.stderr.contains("time to first token: "), "\(r.stderr)")
        #expect(r.stderr.contains("\(invokeTokens.count) tokens"), "\(r.stderr)")
        #expect(r.stderr.contains("tokens/s"))
        var reqs = server.requests
        try #require(reqs.count == 1)
        #expect(reqs[0].signatureOK, "\(reqs[0].problem ?? "")")
        #expect(try reqs[0].inputs == InvokeServer.llama2([("system", "Be brief."), ("user", "Hello there")]))
        let params = reqs[0].json["parameters"] as? [String: Any] ?? [:]
        #expect(params["top_p"] as? Double == 0.6)
        #expect(params["do_sample"] as? Bool == true)
        #expect(params["stop"] as? [String] == ["</s>"])

        let j = try SousBinary.run(["invoke", "tgi-ep", "--prompt", "Hello", "--json"], cwd: ws, env: server.env)
        #expect(j.status == 0, "\(j.stderr)")
        let lines = j.stdout.split(separator: "\n").map { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) ?? [:] }
        #expect(lines.count == invokeTokens.count + 1)
        #expect(lines.dropLast().compactMap { $0["text"] as? String } == invokeTokens)
        #expect(lines.last?["text"] as? String == expected)
        #expect(lines.last?["tokens"] as? Int == invokeTokens.count)
        #expect(lines.last?["finish_reason"] as? String == "eos_token")
        #expect(lines.last?["time_to_first_token_s"] is Double)

        let plain = try SousBinary.run(["invoke", "tgi-ep", "--prompt", "Hello", "--no-stream"], cwd: ws, env: server.env)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout == expected + "\n")
        reqs = server.requests
        #expect(reqs.last?.operation == "invocations")
        #expect(reqs.last?.json["stream"] == nil)
        #expect(reqs.allSatisfy { $0.signatureOK })

        // max_new_tokens reached: finish_reason length.
        let capped = try SousBinary.run(["invoke", "tgi-ep", "--prompt", "Hello", "--json", "--max-new-tokens", "\(invokeTokens.count)"], cwd: ws, env: server.env)
        let summary = capped.stdout.split(separator: "\n").last.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) ?? [:] } ?? [:]
        #expect(summary["finish_reason"] as? String == "length", "\(capped.stdout)")

        // The server really checks signatures: a wrong secret is refused.
        var wrong = server.env
        wrong["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        let refused = try SousBinary.run(["invoke", "tgi-ep", "--prompt", "Hello"], cwd: ws, env: wrong)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("InvalidSignatureException, HTTP 403"), "\(refused.stderr)")
        #expect(server.requests.last?.signatureOK == false)
        #expect(!refused.stderr.contains("not-the-secret"))
    }

    @Test("sous chat keeps the history in llama-2-chat format, /reset forgets it, /system changes the system prompt")
    func chatHistory() throws {
        let answers = [["Hi", " Alice", "!"], ["Sure", ":", " 20%", " off", "."], ["Hello", " again", "."], ["Short", "."]]
        let server = try InvokeServer(scenarios: ["chat-ep": answers.map { ["format": "tgi", "tokens": $0] }])
        let ws = try TestPaths.makeTemporaryDirectory("sous-invoke-ws")
        defer { try? FileManager.default.removeItem(at: ws) }
        let input = "Hello, I am Alice.\n  What discount do I get?  \n/reset\nHi there\n/system Be brief.\nAnd now?\n/exit\nnever sent\n"
        let r = try SousBinary.run(["chat", "chat-ep", "--system", "You are Mr.MightyMark."], cwd: ws, env: server.env, stdin: input)
        #expect(r.status == 0, "\(r.stderr)")
        let a = answers.map { $0.joined() }
        #expect(r.stdout == a.map { $0 + "\n" }.joined(), "\(r.stdout)")
        #expect(r.stderr.contains("(conversation cleared)"))
        #expect(r.stderr.contains("time to first token: "))
        let reqs = server.requests
        try #require(reqs.count == 4)
        let sys = "You are Mr.MightyMark."
        #expect(try reqs[0].inputs == InvokeServer.llama2([("system", sys), ("user", "Hello, I am Alice.")]))
        #expect(try reqs[1].inputs == InvokeServer.llama2([("system", sys), ("user", "Hello, I am Alice."), ("assistant", a[0]), ("user", "What discount do I get?")]))
        #expect(reqs[1].inputs == "<s>[INST] <<SYS>>\nYou are Mr.MightyMark.\n<</SYS>>\n\nHello, I am Alice. [/INST] Hi Alice! </s><s>[INST] What discount do I get? [/INST]")
        #expect(try reqs[2].inputs == InvokeServer.llama2([("system", sys), ("user", "Hi there")]))
        #expect(try reqs[3].inputs == InvokeServer.llama2([("system", "Be brief."), ("user", "Hi there"), ("assistant", a[2]), ("user", "And now?")]))
        #expect(reqs.allSatisfy { $0.signatureOK })
    }

    @Test("sous chat survives a failed turn (424) and goes on without it")
    func chatSurvivesError() throws {
        let server = try InvokeServer(scenarios: [
            "chat-ep": [
                ["format": "tgi", "tokens": ["One", "."]],
                ["status": 424, "headers": ["x-amzn-ErrorType": "ModelError"], "body": #"{"Message":"boom","OriginalMessage":"CUDA out of memory","OriginalStatusCode":500}"#],
                ["format": "tgi", "tokens": ["Three", "."]],
            ]
        ])
        let ws = try TestPaths.makeTemporaryDirectory("sous-invoke-ws")
        defer { try? FileManager.default.removeItem(at: ws) }
        let r = try SousBinary.run(["chat", "chat-ep"], cwd: ws, env: server.env, stdin: "first\nsecond\nthird\n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "One.\nThree.\n")
        #expect(r.stderr.contains("CUDA out of memory"), "\(r.stderr)")
        let reqs = server.requests
        try #require(reqs.count == 3)
        // The failed question is not part of the history.
        #expect(try reqs[2].inputs == InvokeServer.llama2([("user", "first"), ("assistant", "One."), ("user", "third")]))
    }

    @Test("Ctrl-C in sous chat stops the current answer only; the chat goes on with the partial answer in its history")
    func chatInterrupt() throws {
        let slow = (0..<400).map { " w\($0)" }
        let server = try InvokeServer(scenarios: [
            "chat-ep": [
                ["format": "tgi", "tokens": slow, "delay_ms": 20, "max_chunk": 40, "max_part": 30],
                ["format": "tgi", "tokens": ["Done", "."]],
            ]
        ])
        let ws = try TestPaths.makeTemporaryDirectory("sous-invoke-ws")
        defer { try? FileManager.default.removeItem(at: ws) }
        let chat = try ChatProcess(["chat", "chat-ep"], env: server.env, cwd: ws)
        chat.send("count slowly\n")
        #expect(waitUntil(timeout: 30) { chat.stdout.contains(" w3") })
        kill(chat.process.processIdentifier, SIGINT)
        #expect(waitUntil(timeout: 30) { chat.stderr.contains("(answer stopped)") }, "\(chat.stderr)")
        chat.send("next\n/exit\n")
        let status = chat.finish()
        #expect(status == 0, "\(chat.stderr)")
        #expect(chat.stdout.hasSuffix("Done.\n"), "\(chat.stdout)")
        #expect(!chat.stdout.contains(" w399"))
        let reqs = server.requests
        try #require(reqs.count == 2)
        let printed = String(chat.stdout.dropLast("Done.\n".count)).trimmingCharacters(in: .newlines)
        #expect(try reqs[1].inputs == InvokeServer.llama2([("user", "count slowly"), ("assistant", printed), ("user", "next")]))
    }
}
