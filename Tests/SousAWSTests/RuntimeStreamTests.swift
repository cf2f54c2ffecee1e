import Foundation
import SousCrypto
import SousHTTP
import SousStreaming
import SousTestSupport
import Testing

@testable import SousAWS

/// Adds a fixed Authorization header: the loopback server does not verify signatures (the SigV4 signer is
/// tested on its own with the AWS vectors).
struct LoopbackSigner: RequestSigner {
    func sign(_ request: HTTPRequest, service: String, region: String) async throws -> HTTPRequest {
        var r = request
        r.headers.set("X-Amz-Date", "20260101T000000Z")
        r.headers.set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/\(region)/\(service)/aws4_request, SignedHeaders=host, Signature=00")
        return r
    }
}

private func quoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

/// A recorded stream: the container's bytes, their expected printable text, and how they are framed.
struct Recording {
    var name: String
    var contentType: String
    var containerBytes: [UInt8]
    var text: String
    /// Frames appended after the payload parts (error events).
    var trailer: [EventStreamMessage] = []
    /// Cut the encoded file to this many bytes (truncated stream).
    var truncateTo: Int?
    /// Flip a byte at this offset of the encoded file (bad CRC).
    var corruptAt: Int?
    var meta: [String: Any] = [:]
}

/// Cuts `bytes` into PayloadPart frames at seeded random places and encodes them with our encoder.
func encodeParts(_ bytes: [UInt8], seed: UInt64, maxPart: Int = 40) throws -> (wire: Data, parts: [[UInt8]]) {
    var rng = SeededRandom(seed: seed)
    var parts: [[UInt8]] = []
    var i = 0
    while i < bytes.count {
        let n = min(bytes.count - i, 1 + Int(rng.next() % UInt64(maxPart)))
        parts.append(Array(bytes[i..<i + n]))
        i += n
    }
    var wire = Data()
    for p in parts { wire += try EventStreamEncoder.encode(.event(type: "PayloadPart", payload: Data(p))) }
    return (wire, parts)
}

let runtimeTokens = [
    "Subject", ":", " AnyCloud", " 🚀", " launch", "\n\n", "Dear", " Alice", ",", " use", " \"EARLYB1RD\"", " for",
    " 20%", " off", " — ", "日本語", " 👩‍💻", " ok", ".",
]

func tgiBytes(_ tokens: [String]) -> [UInt8] {
    var s = ""
    for (i, t) in tokens.enumerated() {
        s += "data:{\"index\":\(i + 1),\"token\":{\"id\":\(i + 7),\"text\":\(quoted(t)),\"logprob\":-0.25,\"special\":false},\"generated_text\":null,\"details\":null}\n\n"
    }
    s += "data:{\"index\":\(tokens.count + 1),\"token\":{\"id\":2,\"text\":\"</s>\",\"logprob\":0.0,\"special\":true},\"generated_text\":\(quoted(tokens.joined())),\"details\":null}\n\n"
    return Array(s.utf8)
}

func lmiBytes(_ tokens: [String]) -> [UInt8] {
    Array(("{\"generated_text\": \"" + tokens.map { String(quoted($0).dropFirst().dropLast()) }.joined() + "\"}").utf8)
}

func jsonLinesBytes(_ tokens: [String]) -> [UInt8] {
    var s = ""
    for (i, t) in tokens.enumerated() {
        s += "{\"token\": {\"id\": \(i), \"text\": \(quoted(t)), \"log_prob\": -0.1}"
        if i == tokens.count - 1 { s += ", \"generated_text\": \(quoted(tokens.joined()))" }
        s += "}\n"
    }
    return Array(s.utf8)
}

@Suite("SageMaker Runtime streaming against a loopback server and boto3", .serialized)
struct RuntimeStreamTests {
    let expected = runtimeTokens.joined()

    func recordings() -> [Recording] {
        let tgi = tgiBytes(runtimeTokens)
        var r = [
            Recording(name: "tgi-stream", contentType: "text/event-stream", containerBytes: tgi, text: expected),
            Recording(name: "lmi-stream", contentType: "application/json", containerBytes: lmiBytes(runtimeTokens), text: expected),
            Recording(name: "jsonlines-stream", contentType: "application/jsonlines", containerBytes: jsonLinesBytes(runtimeTokens), text: expected),
        ]
        var err = Recording(name: "model-stream-error", contentType: "text/event-stream", containerBytes: Array(tgi.prefix(400)), text: "")
        err.trailer = [.exception(type: "ModelStreamError", payload: Data(#"{"Message":"Model invocation time exceeded 60s","ErrorCode":"ModelInvocationTimeExceeded"}"#.utf8))]
        r.append(err)
        var internalFailure = Recording(name: "internal-failure", contentType: "text/event-stream", containerBytes: Array(tgi.prefix(300)), text: "")
        internalFailure.trailer = [.exception(type: "InternalStreamFailure", payload: Data(#"{"Message":"Internal stream failure"}"#.utf8))]
        r.append(internalFailure)
        var truncated = Recording(name: "truncated", contentType: "text/event-stream", containerBytes: tgi, text: "")
        truncated.truncateTo = 1000
        r.append(truncated)
        var badCRC = Recording(name: "bad-crc", contentType: "text/event-stream", containerBytes: tgi, text: "")
        badCRC.corruptAt = 700
        r.append(badCRC)
        return r
    }

    @Test("sous and boto3 read the same payload bytes from frames our encoder wrote; sous prints the recorded text")
    func endToEnd() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-stream")
        defer { try? FileManager.default.removeItem(at: dir) }
        var payloads: [String: [UInt8]] = [:]
        for (k, rec) in recordings().enumerated() {
            var (wire, parts) = try encodeParts(rec.containerBytes, seed: UInt64(k + 1))
            for t in rec.trailer { wire += try EventStreamEncoder.encode(t) }
            if let n = rec.truncateTo { wire = wire.prefix(n) }
            if let at = rec.corruptAt { wire[at] ^= 0x01 }
            try wire.write(to: dir.appendingPathComponent("\(rec.name).bin"))
            let meta: [String: Any] = ["content_type": rec.contentType, "seed": k + 11, "max_chunk": 97]
            try JSONSerialization.data(withJSONObject: meta).write(to: dir.appendingPathComponent("\(rec.name).json"))
            payloads[rec.name] = parts.flatMap { $0 }
        }
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/stream_server.py").path
        let server = try await TestServerProcess.start(executable: TestPaths.python, arguments: [script, dir.path])
        defer { server.stop() }
        let client = SageMakerRuntimeClient(
            region: "us-east-1", signer: LoopbackSigner(), endpointURL: URL(string: "http://127.0.0.1:\(server.port)")!)

        // sous
        for rec in recordings() {
            let input = InvokeEndpointInput(
                endpointName: rec.name, body: Data(#"{"inputs": "hi"}"#.utf8), customAttributes: "accept_eula=true")
            let out = try await client.invokeEndpointWithResponseStream(input)
            #expect(out.contentType == rec.contentType)
            #expect(out.requestId == "req-\(rec.name)")
            #expect(out.invokedProductionVariant == "AllTraffic")
            var parser = AnyStreamParser(format: .auto, contentType: out.contentType)
            var received: [UInt8] = []
            var events: [StreamEvent] = []
            var failure: SageMakerRuntimeError?
            do {
                for try await part in out.payloadParts {
                    received += part
                    events += parser.feed(part)
                }
                events += parser.finish()
            } catch let e as SageMakerRuntimeError {
                failure = e
            }
            let all = payloads[rec.name]!
            switch rec.name {
            case "tgi-stream", "lmi-stream", "jsonlines-stream":
                #expect(failure == nil, "\(rec.name): \(String(describing: failure))")
                #expect(received == all, "\(rec.name)")
                #expect(printableText(events) == expected, "\(rec.name)")
                #expect(!events.contains { if case .error = $0 { true } else { false } }, "\(rec.name)")
            default:
                try Self.expectRecordedFailure(rec.name, failure, received: received, all: all)
            }
        }

        // The same streams through nextArrival (what sous invoke consumes: payloads straight from the decoder's
        // buffer, one callback batch per network read): the same bytes, the same errors.
        for rec in recordings() {
            let input = InvokeEndpointInput(
                endpointName: rec.name, body: Data(#"{"inputs": "hi"}"#.utf8), customAttributes: "accept_eula=true")
            let out = try await client.invokeEndpointWithResponseStream(input)
            var parts = out.payloadParts.makeAsyncIterator()
            var received: [UInt8] = []
            var arrivals = 0
            var failure: SageMakerRuntimeError?
            do {
                while try await parts.nextArrival({ received += $0 }) { arrivals += 1 }
            } catch let e as SageMakerRuntimeError {
                failure = e
            }
            let all = payloads[rec.name]!
            switch rec.name {
            case "tgi-stream", "lmi-stream", "jsonlines-stream":
                #expect(failure == nil, "\(rec.name): \(String(describing: failure))")
                #expect(received == all, "\(rec.name)")
                #expect(arrivals >= 1, "\(rec.name)")
            default:
                try Self.expectRecordedFailure(rec.name, failure, received: received, all: all)
            }
        }

        // The request as sent.
        let reqData = try Data(contentsOf: dir.appendingPathComponent("tgi-stream.request.json"))
        let req = try #require(try JSONSerialization.jsonObject(with: reqData) as? [String: Any])
        #expect(req["path"] as? String == "/endpoints/tgi-stream/invocations-response-stream")
        let headers = Dictionary(uniqueKeysWithValues: (req["headers"] as? [String: String] ?? [:]).map { ($0.key.lowercased(), $0.value) })
        #expect(headers["content-type"] == "application/json")
        #expect(headers["x-amzn-sagemaker-custom-attributes"] == "accept_eula=true")
        #expect(headers["authorization"]?.hasPrefix("AWS4-HMAC-SHA256") == true)

        // boto3 on the same server must see the same payload bytes (proof our encoder is right).
        let reader = TestPaths.packageRoot.appendingPathComponent("Tests/python/stream_boto3_read.py").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [TestPaths.python, reader, "\(server.port)"] + recordings().map(\.name)
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let lines = output.split(separator: 0x0A)
        try #require(lines.count == recordings().count, "boto3 reader output: \(String(decoding: output, as: UTF8.self))")
        for line in lines {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            let name = obj["name"] as? String ?? ""
            let got = Array(Data(base64Encoded: obj["payload_b64"] as? String ?? "") ?? Data())
            switch name {
            case "tgi-stream", "lmi-stream", "jsonlines-stream":
                #expect(obj["error_code"] is NSNull, "\(name): \(obj)")
                #expect(got == payloads[name]!, "boto3 \(name)")
                #expect(obj["content_type"] as? String == recordings().first { $0.name == name }?.contentType)
            case "model-stream-error":
                #expect(obj["error_code"] as? String == "ModelStreamError")
                #expect(got == payloads[name]!)
            case "internal-failure":
                #expect(obj["error_code"] as? String == "InternalStreamFailure")
            case "bad-crc":
                #expect(obj["error_code"] as? String == "ChecksumMismatch", "\(obj)")
            case "truncated":
                // botocore silently drops a truncated last frame; sous reports it (checked above).
                #expect(obj["error_code"] is NSNull)
            default: break
            }
        }
    }

    @Test("HTTP errors (ModelError 424, ValidationError) become clear errors; InvokeEndpoint returns the body")
    func httpErrorsAndInvoke() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-stream-err")
        defer { try? FileManager.default.removeItem(at: dir) }
        let modelError: [String: Any] = [
            "status": 424,
            "headers": ["x-amzn-ErrorType": "ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/", "x-amzn-RequestId": "rid-424"],
            "body": #"{"ErrorCode":"CLIENT_ERROR_FROM_MODEL","LogStreamArn":"arn:aws:logs:us-east-1:123:log-group:/aws/sagemaker/Endpoints/e","Message":"Received client error (422) from primary with message \"Input validation error: `top_p` must be > 0.0 and < 1.0\". See https://... for more information.","OriginalMessage":"Input validation error: `top_p` must be > 0.0 and < 1.0","OriginalStatusCode":422}"#,
        ]
        try JSONSerialization.data(withJSONObject: modelError).write(to: dir.appendingPathComponent("bad-model.json"))
        let validation: [String: Any] = [
            "status": 400, "headers": ["x-amzn-ErrorType": "ValidationError"],
            "body": #"{"message":"Endpoint nope of account 123 not found."}"#,
        ]
        try JSONSerialization.data(withJSONObject: validation).write(to: dir.appendingPathComponent("nope.json"))
        try Data("[{\"generated_text\":\"Hello\"}]".utf8).write(to: dir.appendingPathComponent("plain.bin"))
        try JSONSerialization.data(withJSONObject: ["content_type": "application/json"]).write(to: dir.appendingPathComponent("plain.json"))

        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/stream_server.py").path
        let server = try await TestServerProcess.start(executable: TestPaths.python, arguments: [script, dir.path])
        defer { server.stop() }
        let client = SageMakerRuntimeClient(
            region: "us-east-1", signer: LoopbackSigner(), endpointURL: URL(string: "http://127.0.0.1:\(server.port)")!)

        do {
            _ = try await client.invokeEndpointWithResponseStream(InvokeEndpointInput(endpointName: "bad-model", body: Data("{}".utf8)))
            Issue.record("ModelError not raised")
        } catch let e as SageMakerRuntimeError {
            #expect(e.kind == .http(status: 424))
            #expect(e.code == "ModelError")
            #expect(e.originalStatusCode == 422)
            #expect(e.requestId == "rid-424")
            #expect(e.description.contains("Input validation error: `top_p` must be > 0.0 and < 1.0"))
            #expect(e.description.contains("log-group:/aws/sagemaker/Endpoints/e"))
        }
        do {
            _ = try await client.invokeEndpointWithResponseStream(InvokeEndpointInput(endpointName: "nope", body: Data("{}".utf8)))
            Issue.record("ValidationError not raised")
        } catch let e as SageMakerRuntimeError {
            #expect(e.code == "ValidationError")
            #expect(e.description.contains("Endpoint nope of account 123 not found."))
        }
        let input = InvokeEndpointInput(
            endpointName: "plain", body: Data("{}".utf8), accept: "application/json", customAttributes: "accept_eula=true",
            targetVariant: "AllTraffic", inferenceComponentName: "ic-1", sessionId: "s-1")
        let out = try await client.invokeEndpoint(input)
        #expect(String(decoding: out.body, as: UTF8.self) == "[{\"generated_text\":\"Hello\"}]")
        let req = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("plain.request.json"))) as? [String: Any])
        let h = Dictionary(uniqueKeysWithValues: (req["headers"] as? [String: String] ?? [:]).map { ($0.key.lowercased(), $0.value) })
        #expect(req["path"] as? String == "/endpoints/plain/invocations")
        #expect(h["accept"] == "application/json")
        #expect(h["x-amzn-sagemaker-target-variant"] == "AllTraffic")
        #expect(h["x-amzn-sagemaker-inference-component"] == "ic-1")
        #expect(h["x-amzn-sagemaker-session-id"] == "s-1")
        // The streaming call sends Accept as X-Amzn-SageMaker-Accept.
        // (The body of "plain" is not an event stream: the stream fails on its first prelude, as it must.)
        let streamed = try await client.invokeEndpointWithResponseStream(
            InvokeEndpointInput(endpointName: "plain", body: Data("{}".utf8), accept: "text/event-stream"))
        await #expect(throws: SageMakerRuntimeError.self) { for try await _ in streamed.payloadParts {} }
        let req2 = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("plain.request.json"))) as? [String: Any])
        let h2 = Dictionary(uniqueKeysWithValues: (req2["headers"] as? [String: String] ?? [:]).map { ($0.key.lowercased(), $0.value) })
        #expect(h2["x-amzn-sagemaker-accept"] == "text/event-stream")
        #expect(h2["accept"] != "text/event-stream")
    }

    @Test("signed by the AWS core (SigV4, signing name sagemaker): a server-side verifier accepts the request")
    func realSigV4() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-stream-sig")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (wire, _) = try encodeParts(tgiBytes(runtimeTokens), seed: 5)
        try wire.write(to: dir.appendingPathComponent("signed-ep.bin"))
        try JSONSerialization.data(withJSONObject: ["content_type": "text/event-stream"]).write(to: dir.appendingPathComponent("signed-ep.json"))
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/stream_server.py").path
        let server = try await TestServerProcess.start(executable: TestPaths.python, arguments: [script, dir.path])
        defer { server.stop() }
        let env = [
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://127.0.0.1:\(server.port)", "AWS_CONFIG_FILE": "/nonexistent/config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
        ]
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        let aws = AWSClient(
            configuration: try AWSConfiguration(environment: env), region: "us-west-2",
            credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: secret, sessionToken: "tok")))
        let client = SageMakerRuntimeClient(aws: aws)
        #expect(client.endpoint.absoluteString == "http://127.0.0.1:\(server.port)")
        let body = try GenerationParameters.notebookTGI.payload(inputs: "<s>[INST] hi [/INST]", for: .tgi)
        let out = try await client.invokeEndpointWithResponseStream(
            InvokeEndpointInput(endpointName: "signed-ep", body: body, customAttributes: "accept_eula=true"))
        var parser = AnyStreamParser(format: .auto, contentType: out.contentType)
        var events: [StreamEvent] = []
        for try await part in out.payloadParts { events += parser.feed(part) }
        events += parser.finish()
        #expect(printableText(events) == runtimeTokens.joined())

        let req = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("signed-ep.request.json"))) as? [String: Any])
        let headers = (req["headers"] as? [String: String] ?? [:]).map { (name: $0.key, value: $0.value) }
        let received = Data(base64Encoded: req["body_b64"] as? String ?? "") ?? Data()
        #expect(received == body)
        let authz = headers.first { $0.name.lowercased() == "authorization" }?.value ?? ""
        #expect(authz.contains("/us-west-2/sagemaker/aws4_request"))
        #expect(authz.contains("x-amzn-sagemaker-custom-attributes"))
        let outcome = SigV4Verifier().verify(
            method: "POST", path: req["path"] as? String ?? "", rawQuery: "", headers: headers,
            bodySHA256: Digest.sha256(received).hexString
        ) { id in id == "AKIDEXAMPLE" ? .init(secretAccessKey: secret, sessionToken: "tok") : nil }
        #expect(outcome.isValid, "\(outcome)")
    }

    @Test("invalid input is refused before sending; endpoint resolution honours AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
    func inputAndEndpoint() async {
        let client = SageMakerRuntimeClient(region: "eu-west-1", signer: LoopbackSigner(), environment: [:])
        #expect(client.endpoint.absoluteString == "https://runtime.sagemaker.eu-west-1.amazonaws.com")
        let env = SageMakerRuntimeClient(region: "eu-west-1", signer: LoopbackSigner(), environment: ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://localhost:4566", "AWS_ENDPOINT_URL": "http://other:1"])
        #expect(env.endpoint.absoluteString == "http://localhost:4566")
        #expect(SageMakerRuntimeClient.resolveEndpoint(region: "cn-north-1", environment: [:]).absoluteString == "https://runtime.sagemaker.cn-north-1.amazonaws.com.cn")
        for name in ["-bad", "bad-", "has space", String(repeating: "a", count: 64), "", "a/../b"] {
            await #expect(throws: SageMakerRuntimeError.self, "\(name)") {
                _ = try await client.invokeEndpointWithResponseStream(InvokeEndpointInput(endpointName: name, body: Data()))
            }
        }
        await #expect(throws: SageMakerRuntimeError.self) {
            _ = try await client.invokeEndpoint(InvokeEndpointInput(endpointName: "ok", body: Data(count: 6 * 1024 * 1024 + 1)))
        }
    }
}

extension RuntimeStreamTests {
    /// The error a recorded failing stream must end with, whichever way it was read: its kind, code and
    /// message, and the payload received before it.
    static func expectRecordedFailure(_ name: String, _ failure: SageMakerRuntimeError?, received: [UInt8], all: [UInt8]) throws {
        switch name {
        case "model-stream-error":
            let e = try #require(failure)
            #expect(e.kind == .modelStreamError)
            #expect(e.errorCode == "ModelInvocationTimeExceeded")
            #expect(Array(e.receivedPayload) == all && received == all)
            #expect(e.description.contains("Model invocation time exceeded 60s"))
            #expect(e.description.contains("\(all.count) bytes of output were received"))
        case "internal-failure":
            let e = try #require(failure)
            #expect(e.kind == .internalStreamFailure)
            #expect(e.isRetryable)
            #expect(Array(e.receivedPayload) == all)
        case "truncated":
            let e = try #require(failure)
            if case .eventStream(.truncated) = e.kind {} else { Issue.record("truncated: \(e)") }
            #expect(!received.isEmpty && Array(e.receivedPayload) == received)
        case "bad-crc":
            let e = try #require(failure)
            if case .eventStream(.messageChecksumMismatch) = e.kind {} else { Issue.record("bad-crc: \(e)") }
        default: break
        }
    }
}
