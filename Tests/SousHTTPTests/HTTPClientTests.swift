import Foundation
import SousTestSupport
import Synchronization
import Testing

@testable import SousHTTP

/// Starts Tests/python/http_test_server.py (off the concurrency pool, so parallel tests starting their
/// servers never delay this test's continuations), runs `body`, stops the server.
func withServer<T>(_ body: (URL, TestServerProcess) async throws -> T) async throws -> T {
    let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/http_test_server.py").path
    let server = try await TestServerProcess.start(executable: TestPaths.python, arguments: [script])
    defer { server.stop() }
    return try await body(URL(string: "http://127.0.0.1:\(server.port)")!, server)
}

private func json(_ data: Data) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// One period of the server's byte pattern (i % 251).
let patternCycle = Data((0..<251).map { UInt8($0) })

/// Bytes i % 251 for i in `range`, built from whole periods: a per-byte `map` over megabytes takes
/// seconds of CPU in a debug build and holds one of the (two, on CI) concurrency-pool threads meanwhile.
func pattern(_ range: Range<Int>) -> Data {
    var out = Data(capacity: range.count)
    var i = range.lowerBound
    while i < range.upperBound {
        let offset = i % 251
        let n = min(251 - offset, range.upperBound - i)
        out.append(patternCycle[offset..<(offset + n)])
        i += n
    }
    return out
}

/// Records what a client's transfers report about their body buffers.
private final class BackpressureProbe: TransferProbe {
    private struct State {
        var paused = false
        var pauseCount = 0
        var highWaterMark = 0
    }
    private let state = Mutex(State())

    /// True while libcurl is paused because the consumer is behind.
    var isPaused: Bool { state.withLock { $0.paused } }
    /// How many times the transfer was paused.
    var pauseCount: Int { state.withLock { $0.pauseCount } }
    /// Largest number of body bytes held at once.
    var highWaterMark: Int { state.withLock { $0.highWaterMark } }

    func held(_ bytes: Int) { state.withLock { $0.highWaterMark = max($0.highWaterMark, bytes) } }
    func paused() {
        state.withLock {
            $0.paused = true
            $0.pauseCount += 1
        }
    }
    func resumed() { state.withLock { $0.paused = false } }
}

@Suite("HTTPClient against a loopback server")
struct HTTPClientTests {
    let client = HTTPClient()

    @Test func getPutPostRoundTrip() async throws {
        try await withServer { base, _ in
            let get = try await client.send(HTTPRequest(url: base.appendingPathComponent("echo"), headers: ["X-Test": "a"]))
            #expect(get.status == 200)
            #expect(get.head.httpVersion == "1.1")
            #expect(get.headers["content-type"] == "application/json")
            let g = try json(get.body)
            #expect(g["method"] as? String == "GET")
            #expect((g["headers"] as? [String: String])?["x-test"] == "a")

            let payload = Data("hello, put".utf8)
            let put = try await client.send(
                HTTPRequest(method: "PUT", url: base.appendingPathComponent("echo"), body: .bytes(payload)))
            let p = try json(put.body)
            #expect(p["method"] as? String == "PUT")
            #expect(p["body_text"] as? String == "hello, put")
            #expect((p["headers"] as? [String: String])?["expect"] == nil)

            let post = try await client.send(
                HTTPRequest(
                    method: "POST", url: base.appendingPathComponent("echo"),
                    headers: ["Content-Type": "application/json"], body: .bytes(Data("{\"a\":1}".utf8))))
            let q = try json(post.body)
            #expect(q["method"] as? String == "POST")
            #expect(q["body_text"] as? String == "{\"a\":1}")
            #expect((q["headers"] as? [String: String])?["content-type"] == "application/json")

            let empty = try await client.send(HTTPRequest(method: "POST", url: base.appendingPathComponent("echo")))
            #expect(try json(empty.body)["body_len"] as? Int == 0)

            let head = try await client.send(HTTPRequest(method: "HEAD", url: URL(string: "\(base)/bytes?n=5000")!))
            #expect(head.status == 200)
            #expect(head.headers["Content-Length"] == "5000")
            #expect(head.body.isEmpty)

            let missing = try await client.send(HTTPRequest(url: base.appendingPathComponent("nope")))
            #expect(missing.status == 404)
        }
    }

    @Test func streamedBodyIsBoundedByBackpressure() async throws {
        try await withServer { base, _ in
            // 8 MiB in 128 chunks; the consumer waits until libcurl pauses, then reads everything.
            let probe = BackpressureProbe()
            let client = HTTPClient(probe: probe)
            let response = try await client.stream(HTTPRequest(url: URL(string: "\(base)/stream?chunks=128&size=65536")!))
            #expect(response.head.status == 200)
            let deadline = Date().addingTimeInterval(20)
            while !probe.isPaused && Date() < deadline {  // poll until backpressure engages
                try await Task.sleep(for: .milliseconds(10))  // poll interval
            }
            #expect(probe.isPaused)
            var total = 0
            var chunks = 0
            var mismatch = false
            for try await chunk in response.body {
                if chunk != pattern(total..<(total + chunk.count)) { mismatch = true }
                total += chunk.count
                chunks += 1
                if chunks == 32 {
                    // The consumer falls behind again: libcurl must pause a second time.
                    while !probe.isPaused && Date() < deadline {  // poll until paused again
                        try await Task.sleep(for: .milliseconds(10))  // poll interval
                    }
                }
            }
            #expect(total == 128 * 65536)
            #expect(!mismatch)
            #expect(chunks >= 128)
            // Never more than the limit plus one libcurl write held in memory.
            #expect(probe.highWaterMark <= bodyBufferLimit + receiveBufferSize)
            #expect(probe.pauseCount >= 2)
        }
    }

    @Test func deliverHandsTheBacklogThenEveryChunkInOrder() async throws {
        try await withServer { base, _ in
            // The consumer attaches its sink only once libcurl is paused (1 MiB buffered): the backlog goes
            // first, then the transfer resumes into the sink, and every byte arrives once, in order.
            let probe = BackpressureProbe()
            let client = HTTPClient(probe: probe)
            let response = try await client.stream(HTTPRequest(url: URL(string: "\(base)/stream?chunks=128&size=65536")!))
            let deadline = Date().addingTimeInterval(20)
            while !probe.isPaused && Date() < deadline {  // poll until backpressure engages
                try await Task.sleep(for: .milliseconds(10))  // poll interval
            }
            #expect(probe.isPaused)
            let received = Mutex((total: 0, mismatch: false, calls: 0))
            try await response.body.deliver { bytes in
                received.withLock { r in
                    if Data(bytes) != pattern(r.total..<(r.total + bytes.count)) { r.mismatch = true }
                    r.total += bytes.count
                    r.calls += 1
                }
            }
            let r = received.withLock { $0 }
            #expect(r.total == 128 * 65536)
            #expect(!r.mismatch)
            #expect(probe.pauseCount >= 1)
            // A sink that throws aborts the transfer and its error comes back.
            struct Full: Error {}
            let again = try await client.stream(HTTPRequest(url: URL(string: "\(base)/stream?chunks=128&size=65536")!))
            await #expect(throws: Full.self) { try await again.body.deliver { _ in throw Full() } }
        }
    }

    @Test func uploadsAFileRegionByteExact() async throws {
        try await withServer { base, _ in
            let dir = try TestPaths.makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("big.bin")
            try pattern(0..<3_000_000).write(to: file)
            let (offset, length) = (123_457, 2_000_001)
            let put = try await client.send(
                HTTPRequest(
                    method: "PUT", url: base.appendingPathComponent("echo"),
                    body: .file(path: file.path, offset: UInt64(offset), length: UInt64(length))))
            let got = try json(put.body)
            let expected = try json(
                try await client.send(HTTPRequest(url: URL(string: "\(base)/pattern-sha?start=\(offset)&end=\(offset + length)")!)).body)
            #expect(got["body_len"] as? Int == length)
            #expect(got["body_sha256"] as? String == expected["sha256"] as? String)
            #expect((got["headers"] as? [String: String])?["content-length"] == "\(length)")

            let absent = try await #require(throws: HTTPError.self) {
                _ = try await client.send(
                    HTTPRequest(method: "PUT", url: base.appendingPathComponent("echo"),
                                body: .file(path: dir.appendingPathComponent("absent").path, offset: 0, length: 10)))
            }
            #expect(absent.kind == .fileRead)
            // A region past the end of the file fails as a read error, not a hang or a short upload.
            let short = try await #require(throws: HTTPError.self) {
                _ = try await client.send(
                    HTTPRequest(method: "PUT", url: base.appendingPathComponent("echo"),
                                body: .file(path: file.path, offset: 2_999_000, length: 5000)))
            }
            #expect(short.kind == .fileRead)
            #expect(!short.isTransient)
        }
    }

    @Test func rangeRequest() async throws {
        try await withServer { base, _ in
            var req = HTTPRequest(url: URL(string: "\(base)/bytes?n=10000")!)
            req.headers.set("Range", "bytes=1000-1999")
            let r = try await client.send(req)
            #expect(r.status == 206)
            #expect(r.headers["Content-Range"] == "bytes 1000-1999/10000")
            #expect(r.body == pattern(1000..<2000))
        }
    }

    @Test func downloadWritesAndAppends() async throws {
        try await withServer { base, _ in
            let dir = try TestPaths.makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("out").path
            var first = HTTPRequest(url: URL(string: "\(base)/bytes?n=300000")!)
            first.headers.set("Range", "bytes=0-99999")
            #expect(try await client.download(first, to: path, append: false).status == 206)
            var rest = HTTPRequest(url: URL(string: "\(base)/bytes?n=300000")!)
            rest.headers.set("Range", "bytes=100000-")
            #expect(try await client.download(rest, to: path, append: true).status == 206)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == pattern(0..<300000))
            let missing = try await client.download(HTTPRequest(url: base.appendingPathComponent("nope")), to: path, append: true)
            #expect(missing.status == 404)
            #expect(String(decoding: missing.body, as: UTF8.self).contains("not found"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 300000)
        }
    }

    @Test func redirectsFollowedOnlyWhenAllowed() async throws {
        try await withServer { base, _ in
            let url = URL(string: "\(base)/redirect?to=/bytes%3Fn%3D10&code=302")!
            let plain = try await client.send(HTTPRequest(url: url))
            #expect(plain.status == 302)
            #expect(plain.headers["Location"] == "/bytes?n=10")
            var follow = HTTPRequest(url: url)
            follow.followRedirects = true
            let followed = try await client.send(follow)
            #expect(followed.status == 200)
            #expect(followed.body == pattern(0..<10))
            #expect(followed.head.url.absoluteString == "\(base)/bytes?n=10")

            var loop = HTTPRequest(url: URL(string: "\(base)/redirect?to=/redirect%3Fto%3D/bytes")!)
            loop.followRedirects = true
            loop.maxRedirects = 0
            await #expect(throws: HTTPError.self) { _ = try await client.send(loop) }
        }
    }

    @Test func authorizationKeptOnSameHostStrippedOnCrossHostRedirect() async throws {
        try await withServer { base, _ in
            try await withServer { other, _ in
                var same = HTTPRequest(url: URL(string: "\(base)/redirect?to=/auth")!, headers: ["Authorization": "Bearer s3cret"])
                same.followRedirects = true
                let s = try json(try await client.send(same).body)
                #expect(s["authorization"] as? String == "Bearer s3cret")

                let target = "\(other)/auth".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                var cross = HTTPRequest(url: URL(string: "\(base)/redirect?to=\(target)&code=307")!, headers: ["Authorization": "Bearer s3cret"])
                cross.followRedirects = true
                let response = try await client.send(cross)
                let c = try json(response.body)
                #expect(c["port"] as? Int == other.port)
                #expect(c["authorization"] is NSNull)
            }
        }
    }

    @Test func connectFailureIsTransient() async throws {
        // Bind and close a port to find one that refuses connections.
        let port = try await withServer { base, server in base.port! }
        var req = HTTPRequest(url: URL(string: "http://127.0.0.1:\(port)/x")!)
        req.timeouts.connect = .seconds(5)
        let error = try await #require(throws: HTTPError.self) { _ = try await client.send(req) }
        #expect(error.kind == .couldNotConnect)
        #expect(error.isTransient)
        #expect(error.url == "http://127.0.0.1:\(port)/x")
        #expect(error.description.contains("could not connect"))
    }

    @Test func lowSpeedTimeout() async throws {
        try await withServer { base, _ in
            var req = HTTPRequest(url: base.appendingPathComponent("stall"))
            req.timeouts.lowSpeedBytes = 100
            req.timeouts.lowSpeedTime = .seconds(1)
            let start = ContinuousClock.now
            let error = try await #require(throws: HTTPError.self) { _ = try await client.send(req) }
            let elapsed = ContinuousClock.now - start
            #expect(error.kind == .timedOut)
            #expect(error.isTransient)
            #expect(error.description.contains("too slow"))
            // What the caller sees: the stall is reported about 1 s after the configured 1 s under the
            // limit (libcurl samples the speed once a second; typically 1.2-2 s). Never before the
            // configured time; the upper bound leaves room for a loaded 2-core CI machine.
            #expect(elapsed >= .milliseconds(950), "timed out after \(elapsed), before lowSpeedTime")
            #expect(elapsed < .seconds(8), "timed out after \(elapsed), expected ~1-2 s")
        }
    }

    @Test func cancellingAStalledStreamReturnsPromptly() async throws {
        try await withServer { base, _ in
            let client = self.client
            let task = Task {
                let response = try await client.stream(HTTPRequest(url: base.appendingPathComponent("stall")))
                var n = 0
                for try await chunk in response.body { n += chunk.count }
                return n
            }
            let waitingForHead = Task {
                try await client.stream(HTTPRequest(url: base.appendingPathComponent("stall-head")))
            }
            // Let both reach their stall: poll the server until it has seen both connections.
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                let c = try json(try await client.send(HTTPRequest(url: base.appendingPathComponent("connections"))).body)
                if (c["count"] as? Int ?? 0) >= 3 { break }
                try await Task.sleep(for: .milliseconds(20))  // poll interval
            }
            let start = Date()
            task.cancel()
            waitingForHead.cancel()
            let e1 = await #expect(throws: HTTPError.self) { _ = try await task.value }
            let e2 = await #expect(throws: HTTPError.self) { _ = try await waitingForHead.value }
            #expect(e1?.kind == .cancelled)
            #expect(e2?.kind == .cancelled)
            // The stall lasts 60 s; the bound leaves room for a loaded 2-core machine running other suites.
            #expect(Date().timeIntervalSince(start) < 5)
        }
    }

    @Test func droppingAStreamAbortsItsTransfer() async throws {
        try await withServer { base, _ in
            weak var transfer: Transfer?
            do {
                let response = try await client.stream(HTTPRequest(url: base.appendingPathComponent("stall")))
                transfer = response.body.owner.transfer
                #expect(transfer != nil)
            }
            // The curl thread drops its reference once the transfer is aborted.
            let deadline = Date().addingTimeInterval(5)
            while transfer != nil && Date() < deadline {  // poll until released
                try await Task.sleep(for: .milliseconds(10))  // poll interval
            }
            #expect(transfer == nil)
        }
    }

    @Test func requestsGoToTheLeastBusyTransferThread() async throws {
        try await withServer { base, _ in
            // Two threads. A long transfer holds the first; a short one runs and ends on the second; the next long
            // transfer must go to the idle second thread (taking turns would put it beside the first one).
            var configuration = HTTPClient.Configuration()
            configuration.transferThreads = 2
            let client = HTTPClient(configuration: configuration)
            let first = try await client.stream(HTTPRequest(url: base.appendingPathComponent("stall")))
            let short = try await client.send(HTTPRequest(url: URL(string: "\(base)/bytes?n=1000")!))
            #expect(short.body.count == 1000)
            let second = try await client.stream(HTTPRequest(url: base.appendingPathComponent("stall")))
            #expect(first.body.owner.transfer.multi !== second.body.owner.transfer.multi)
            #expect(client.multis.map(\.transfersInFlight) == [1, 1])
            first.body.cancel()
            second.body.cancel()
        }
    }

    @Test func connectionsAreReused() async throws {
        try await withServer { base, _ in
            let client = HTTPClient()
            for i in 0..<20 {
                let r = try await client.send(HTTPRequest(url: URL(string: "\(base)/bytes?n=\(1000 + i)")!))
                #expect(r.body.count == 1000 + i)
            }
            let c = try json(try await client.send(HTTPRequest(url: base.appendingPathComponent("connections"))).body)
            let count = try #require(c["count"] as? Int)
            print("connectionsAreReused: \(count) connection(s) for 21 requests")
            #expect(count <= 2, "saw \(count) connections for 21 sequential requests")
        }
    }

    @Test func responseCutMidBodyIsTransient() async throws {
        try await withServer { base, _ in
            let error = try await #require(throws: HTTPError.self) {
                _ = try await client.send(HTTPRequest(url: base.appendingPathComponent("cut")))
            }
            #expect(error.kind == .connectionReset)
            #expect(error.isTransient)
        }
    }

    @Test func tlsCertificatesAreVerified() async throws {
        let dir = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cert = dir.appendingPathComponent("cert.pem").path
        let key = dir.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                             "-days", "1", "-subj", "/CN=127.0.0.1"]
        openssl.standardError = FileHandle.nullDevice
        let status = try await offCooperativePool {  // key generation takes a while: keep the pool free
            try openssl.run()
            openssl.waitUntilExit()
            return openssl.terminationStatus
        }
        try #require(status == 0)
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/http_test_server.py").path
        let server = try await TestServerProcess.start(
            executable: TestPaths.python, arguments: [script, "--tls", cert, key])
        defer { server.stop() }
        // A self-signed certificate is rejected: verification is on.
        let error = try await #require(throws: HTTPError.self) {
            _ = try await client.send(HTTPRequest(url: URL(string: "https://127.0.0.1:\(server.port)/bytes?n=10")!))
        }
        #expect(error.kind == .tls)
        #expect(!error.isTransient)
    }

    @Test func headersAreOrderedAndCaseInsensitive() {
        var h: HTTPHeaders = ["A": "1", "b": "2"]
        h.add("a", "3")
        #expect(h["a"] == "1")
        #expect(h.values(for: "A") == ["1", "3"])
        h.set("A", "9")
        #expect(h.values(for: "a") == ["9"])
        #expect(h.map(\.name) == ["A", "b"])
        h.remove("B")
        #expect(h.count == 1)
        #expect(!h.description.contains("9"))
        var dumped = ""
        dump(HTTPRequest(url: URL(string: "http://x")!, headers: ["Authorization": "Bearer s3cret"]), to: &dumped)
        #expect(!dumped.contains("s3cret"))
        #expect(dumped.contains("Authorization"))
    }
}
