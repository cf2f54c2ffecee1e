import Foundation
import SousAWS
import SousLocalCloud
import SousTestSupport
import Testing

/// Every route of the local cloud authenticates, and a request is refused before its body is read whenever its
/// headers show it is not signed with the local credentials.
@Suite("Local cloud authentication", .serialized)
struct AuthenticationTests {
    @Test("/_sous/status and /_sous/health refuse a request without a signature or with a wrong one")
    func controlRoutesAuthenticate() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        let port = cloud.port
        let creds = cloud.credentials

        for path in ["/_sous/status", "/_sous/health"] {
            let unsigned = try await offPool {
                let c = try RawHTTPConnection(port: port)
                try c.send(Data("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8))
                return try c.readResponse()
            }
            #expect(unsigned.status == 403, "\(path) answered \(unsigned.status) without a signature")
            #expect(unsigned.header("x-amzn-ErrorType") == "MissingAuthenticationToken")
            #expect(!String(decoding: unsigned.body, as: UTF8.self).contains("buckets"))

            let wrong = try await offPool {
                let c = try RawHTTPConnection(port: port)
                try c.send(
                    RawHTTPConnection.signedHead(
                        "GET", path, port: port, accessKeyId: creds.accessKeyId, secret: "not-the-secret", service: "sous", headers: [],
                        payloadHash: SigV4Request.emptyPayloadHash, signPayloadHeader: false))
                return try c.readResponse()
            }
            #expect(wrong.status == 403)
            #expect(wrong.header("x-amzn-ErrorType") == "SignatureDoesNotMatch")
        }
    }

    @Test("`sous local status`'s client signs with the workspace's credentials; another workspace's are refused with the server's error")
    func controlClientSigns() async throws {
        let workspace = try TestPaths.makeTemporaryDirectory("sous-localcloud-auth")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let control = LocalCloudControl(workspace: workspace)
        let cloud = try await LocalCloudFixture(dir: workspace, credentials: try control.credentials())
        defer { cloud.stop() }
        let port = cloud.port
        let info = LocalCloudServerInfo(pid: getpid(), host: "127.0.0.1", port: port, region: "us-east-1", startedAt: Date())
        try control.record(info)
        // The server runs in this process: other suites' synchronous tests may hold the cooperative pool a while.
        let status = try await control.get(info, "/_sous/status", timeout: 120)
        #expect(status["buckets"] is [Any])
        let health = try await control.get(info, "/_sous/health", timeout: 120)
        #expect(health["pid"] as? Int == Int(getpid()))

        // Another workspace's credentials are refused, and the error says so.
        let other = LocalCloudControl(workspace: try TestPaths.makeTemporaryDirectory("sous-localcloud-other"))
        defer { try? FileManager.default.removeItem(at: other.paths.root.deletingLastPathComponent().deletingLastPathComponent()) }
        _ = try other.credentials()
        do {
            _ = try await other.get(info, "/_sous/status", timeout: 120)
            Issue.record("another workspace's credentials were accepted")
        } catch {
            #expect("\(error)".contains("HTTP 403, InvalidClientTokenId"))
        }
    }

    /// A request that declares an 8 MiB body, of which the test sends only the first 64 KiB before it waits for the
    /// answer: the server must answer from the headers alone.
    struct LargeBodyCase: Sendable, CustomStringConvertible {
        var description: String
        var method: String
        var path: String
        var service: String
        var headers: [(String, String)]
        var payloadHash: String
        var signPayloadHeader: Bool
        var accessKeyId: String?  // nil: the right one
        var expectedStatus: Int
        var expectedCode: String
    }

    static let body = Data(repeating: 0x61, count: 8 << 20)
    static let bodySHA256 = AWSHashing.sha256Hex(body)

    static let largeBodyCases: [LargeBodyCase] = [
        LargeBodyCase(
            description: "S3 PutObject, signed payload hash, wrong secret", method: "PUT", path: "/bucket/big", service: "s3", headers: [],
            payloadHash: bodySHA256, signPayloadHeader: true, expectedStatus: 403, expectedCode: "SignatureDoesNotMatch"),
        LargeBodyCase(
            description: "S3 PutObject, UNSIGNED-PAYLOAD, wrong secret", method: "PUT", path: "/bucket/big", service: "s3", headers: [],
            payloadHash: "UNSIGNED-PAYLOAD", signPayloadHeader: true, expectedStatus: 403, expectedCode: "SignatureDoesNotMatch"),
        LargeBodyCase(
            description: "SageMaker Runtime InvokeEndpoint, unknown access key", method: "POST", path: "/endpoints/e/invocations",
            service: "sagemaker", headers: [("Content-Type", "application/json")], payloadHash: bodySHA256, signPayloadHeader: false,
            accessKeyId: "LOCALNOTAKEY0000000000", expectedStatus: 403, expectedCode: "InvalidClientTokenId"),
        LargeBodyCase(
            description: "SageMaker CreateModel with x-amz-content-sha256, wrong secret", method: "POST", path: "/", service: "sagemaker",
            headers: [("X-Amz-Target", "SageMaker.CreateModel"), ("Content-Type", "application/x-amz-json-1.1")], payloadHash: bodySHA256,
            signPayloadHeader: true, expectedStatus: 403, expectedCode: "SignatureDoesNotMatch"),
    ]

    @Test("A bad signature on an 8 MiB body is refused before the client has sent the body", arguments: largeBodyCases)
    func refusedBeforeTheBody(_ c: LargeBodyCase) async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        let port = cloud.port
        let creds = cloud.credentials
        let response = try await offPool {
            let conn = try RawHTTPConnection(port: port)
            var head = RawHTTPConnection.signedHead(
                c.method, c.path, port: port, accessKeyId: c.accessKeyId ?? creds.accessKeyId,
                secret: c.accessKeyId == nil ? "not-the-secret" : creds.secretAccessKey, service: c.service,
                headers: c.headers + [("Content-Length", String(Self.body.count))], payloadHash: c.payloadHash,
                signPayloadHeader: c.signPayloadHeader)
            head += Self.body.prefix(64 << 10)
            try conn.send(head)
            return try conn.readResponse()
        }
        #expect(response.status == c.expectedStatus)
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(text.contains(c.expectedCode) || response.header("x-amzn-ErrorType") == c.expectedCode, "\(text)")
    }

    @Test("A client waiting for 100 Continue gets the refusal instead, and the connection closes; a good request gets 100 Continue")
    func expectContinue() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        let port = cloud.port
        let creds = cloud.credentials
        let body = Data("hello".utf8)
        @Sendable func head(_ path: String, secret: String) -> Data {
            RawHTTPConnection.signedHead(
                "PUT", path, port: port, accessKeyId: creds.accessKeyId, secret: secret, service: "s3",
                headers: [("Content-Length", String(body.count)), ("Expect", "100-continue")], payloadHash: AWSHashing.sha256Hex(body),
                signPayloadHeader: true)
        }
        let (refused, closed) = try await offPool {
            let conn = try RawHTTPConnection(port: port)
            try conn.send(head("/bucket/k", secret: "not-the-secret"))
            let r = try conn.readResponse()
            return (r, conn.closedByServer())
        }
        #expect(refused.status == 403)
        #expect(refused.header("connection") == "close")
        #expect(closed)

        let (created, interim, final) = try await offPool {
            let conn = try RawHTTPConnection(port: port)
            try conn.send(
                RawHTTPConnection.signedHead(
                    "PUT", "/bucket", port: port, accessKeyId: creds.accessKeyId, secret: creds.secretAccessKey, service: "s3",
                    headers: [("Content-Length", "0")], payloadHash: SigV4Request.emptyPayloadHash, signPayloadHeader: true))
            let created = try conn.readResponse()
            try conn.send(head("/bucket/k", secret: creds.secretAccessKey))
            let interim = try conn.readResponse()
            try conn.send(body)
            return (created, interim, try conn.readResponse())
        }
        #expect(created.status == 200)
        #expect(interim.status == 100)
        #expect(final.status == 200)
    }
}
