import Foundation
import SousTestSupport
import Testing

/// Invocations under faults, through the built `sous` against Tests/python/invoke_server.py: failures before
/// the first byte of the answer are retried (and say so with -v), failures after it are not, and a silent or
/// trickling endpoint ends with a clear error at the idle timeout or the deadline.
@Suite("invocations survive faults and never hang", .serialized)
struct InvokeFaultTests {
    static var throttled: [String: Any] { [
        "status": 429, "headers": ["x-amzn-ErrorType": "ThrottlingException"], "body": #"{"message": "Rate exceeded"}"#,
    ] }
    static var unavailable: [String: Any] { [
        "status": 503, "headers": ["x-amzn-ErrorType": "ServiceUnavailable"], "body": #"{"message": "try later"}"#,
    ] }
    static var answer: [String: Any] { ["format": "tgi", "tokens": invokeTokens, "seed": 5] }

    func workspace() throws -> URL { try TestPaths.makeTemporaryDirectory("sous-invoke-faults") }

    @Test("throttling, 5xx and resets before the first byte are retried, visibly with -v; the answer prints once")
    func retriedBeforeTheFirstByte() throws {
        let server = try InvokeServer(scenarios: [
            // A reset first, on a fresh connection (libcurl itself re-sends a request whose reused connection
            // closed before answering).
            "flaky-ep": [["reset": true], Self.throttled, Self.unavailable, Self.answer],
            "flaky-plain-ep": [["reset": true], Self.unavailable, Self.answer],
            "flaky-step-ep": [Self.throttled, Self.answer],
        ])
        let ws = try workspace()
        defer { try? FileManager.default.removeItem(at: ws) }
        // Three failures need four attempts: AWS_MAX_ATTEMPTS is honoured (the AWS default is 3).
        let r = try SousBinary.run(
            ["invoke", "flaky-ep", "--prompt", "hi", "-v"], cwd: ws, env: server.env.merging(["AWS_MAX_ATTEMPTS": "4"]) { $1 })
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == invokeTokens.joined() + "\n")
        let retries = r.stderr.split(separator: "\n").filter { $0.contains("retrying") }
        #expect(retries.count == 3, "\(r.stderr)")
        #expect(r.stderr.contains("ThrottlingException") && r.stderr.contains("HTTP 503"), "\(r.stderr)")
        #expect(r.stderr.contains("the connection broke before the answer"), "\(r.stderr)")
        #expect(server.requests.filter { $0.endpoint == "flaky-ep" }.count == 4)
        // Without -v the retries stay quiet.
        let plain = try SousBinary.run(["invoke", "flaky-plain-ep", "--prompt", "hi", "--no-stream"], cwd: ws, env: server.env)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout == invokeTokens.joined() + "\n")
        #expect(!plain.stderr.contains("retrying"))
        #expect(server.requests.filter { $0.endpoint == "flaky-plain-ep" }.count == 3)
        // In a recipe the retry is in the step's verbose log.
        try """
            name: flaky
            steps:
              - id: ask
                uses: sagemaker.invoke-stream
                with: {endpoint: flaky-step-ep, prompt: hi}
            """.write(to: ws.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        let run = try SousBinary.run(["run", "r.yaml", "-v"], cwd: ws, env: server.env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("retrying") && run.stderr.contains("ThrottlingException"), "\(run.stderr)")
        #expect(run.stdout.contains(invokeTokens.joined()))
    }

    @Test("a connection that breaks after the first byte of the answer is not retried")
    func neverRetriedAfterTheFirstByte() throws {
        let server = try InvokeServer(scenarios: ["cut-ep": [Self.answer.merging(["cut_after": 200]) { $1 }, Self.answer]])
        let ws = try workspace()
        defer { try? FileManager.default.removeItem(at: ws) }
        let r = try SousBinary.run(["invoke", "cut-ep", "--prompt", "hi", "-v"], cwd: ws, env: server.env)
        #expect(r.status == 1)
        #expect(!r.stderr.contains("retrying"), "\(r.stderr)")
        #expect(r.stderr.contains("connection"), "\(r.stderr)")
        #expect(server.requests.count == 1)
    }

    @Test("an endpoint that goes silent ends at the idle timeout; one that trickles forever at the deadline")
    func idleTimeoutAndDeadline() throws {
        let server = try InvokeServer(scenarios: [
            "silent-ep": Self.answer.merging(["stall_after": 100]) { $1 },
            "trickle-ep": Self.answer.merging(["trickle_ms": 200]) { $1 },
        ])
        let ws = try workspace()
        defer { try? FileManager.default.removeItem(at: ws) }
        var started = Date()
        let silent = try SousBinary.run(["invoke", "silent-ep", "--prompt", "hi", "--idle-timeout", "1", "--format", "raw"], cwd: ws, env: server.env)
        var took = Date().timeIntervalSince(started)
        #expect(silent.status == 1)
        #expect(silent.stderr.contains("no byte of the answer for 1 s (the idle timeout"), "\(silent.stderr)")
        #expect(took < 10, "took \(took) s")
        started = Date()
        let trickle = try SousBinary.run(
            ["invoke", "trickle-ep", "--prompt", "hi", "--idle-timeout", "1", "--deadline", "2", "--format", "raw"], cwd: ws, env: server.env)
        took = Date().timeIntervalSince(started)
        #expect(trickle.status == 1)
        #expect(trickle.stderr.contains("the answer did not end within the 2 s deadline"), "\(trickle.stderr)")
        #expect(trickle.stdout.hasPrefix("xxx"), "\(trickle.stdout)")
        #expect(took >= 2 && took < 10, "took \(took) s")
        // The same limits as step inputs.
        try """
            name: trickling
            steps:
              - id: ask
                uses: sagemaker.invoke-stream
                with: {endpoint: trickle-ep, prompt: hi, format: raw, idle_timeout: 1, deadline: 2}
            """.write(to: ws.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        let run = try SousBinary.run(["run", "r.yaml"], cwd: ws, env: server.env)
        #expect(run.status == 1)
        #expect(run.stderr.contains("the answer did not end within the 2 s deadline"), "\(run.stderr)")
        #expect(server.requests.count == 3)  // no retry after a timeout
    }
}
