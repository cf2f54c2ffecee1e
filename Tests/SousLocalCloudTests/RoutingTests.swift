import Foundation
import SousAWS
import SousLocalCloud
import SousTestSupport
import Testing

/// The router and the one error mapping: a request no route answers, or a route refuses, gets the error in its
/// service's wire format (S3 XML, SageMaker JSON 1.1, SageMaker Runtime REST-JSON, STS query XML).
@Suite("Local cloud routing and errors")
struct RoutingTests {
    /// Sends one request signed with the fixture's credentials and returns the response.
    func send(
        _ cloud: LocalCloudFixture, _ method: String, _ path: String, service: String, headers: [(String, String)] = [],
        body: Data = Data()
    ) async throws -> RawHTTPConnection.Response {
        let port = cloud.port, creds = cloud.credentials
        return try await offPool {
            let conn = try RawHTTPConnection(port: port)
            var request = RawHTTPConnection.signedHead(
                method, path, port: port, accessKeyId: creds.accessKeyId, secret: creds.secretAccessKey, service: service,
                headers: headers + [("Content-Length", String(body.count))], payloadHash: AWSHashing.sha256Hex(body),
                signPayloadHeader: service == "s3")
            request += body
            try conn.send(request)
            return try conn.readResponse()
        }
    }

    @Test("Each service's errors in its own format: S3 XML, SageMaker JSON, Runtime REST-JSON, STS query XML")
    func errorsPerService() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        let patch = try await send(cloud, "PATCH", "/bucket/key", service: "s3")
        #expect(patch.status == 405)
        #expect(String(decoding: patch.body, as: UTF8.self).contains("<Code>MethodNotAllowed</Code>"))

        let acl = try await send(cloud, "GET", "/bucket?acl", service: "s3")
        #expect(acl.status == 501)
        #expect(String(decoding: acl.body, as: UTF8.self).contains("S3 subresource ?acl"))

        let missing = try await send(cloud, "GET", "/no-such-bucket/key", service: "s3")
        #expect(missing.status == 404)
        #expect(String(decoding: missing.body, as: UTF8.self).contains("<Code>NoSuchBucket</Code>"))

        let target = try await send(
            cloud, "POST", "/", service: "sagemaker",
            headers: [("X-Amz-Target", "SageMaker.DescribeEndpoint"), ("Content-Type", "application/x-amz-json-1.1")],
            body: Data(#"{"EndpointName": "nope"}"#.utf8))
        #expect(target.status == 400)
        #expect(target.header("x-amzn-ErrorType") == "ValidationException")
        #expect(String(decoding: target.body, as: UTF8.self).contains(#""__type":"ValidationException""#))

        let runtime = try await send(cloud, "POST", "/somewhere/else", service: "sagemaker")
        #expect(runtime.status == 404)
        #expect(runtime.header("x-amzn-ErrorType") == "UnknownOperationException")

        let invoke = try await send(cloud, "POST", "/endpoints/nope/invocations", service: "sagemaker", body: Data("{}".utf8))
        #expect(invoke.header("x-amzn-ErrorType") == "ValidationError")

        let sts = try await send(
            cloud, "POST", "/", service: "sts", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Data("Action=AssumeRole&Version=2011-06-15".utf8))
        #expect(sts.status == 400)
        #expect(String(decoding: sts.body, as: UTF8.self).contains("<ErrorResponse"))
        #expect(String(decoding: sts.body, as: UTF8.self).contains("<Code>InvalidAction</Code>"))
    }

    @Test(
        "The same port answers HTTPS with the workspace's certificate (for 127.0.0.1), and authenticates there too",
        .enabled(if: ClientTools.openssl, "needs the openssl tool (the local cloud's TLS certificate)"))
    func https() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        let bundle = cloud.dir.appendingPathComponent("tls/ca-bundle.pem").path
        let script = """
            import ssl, sys, urllib.request, urllib.error
            ctx = ssl.create_default_context(cafile=sys.argv[2])
            try:
                urllib.request.urlopen(f"https://127.0.0.1:{sys.argv[1]}/_sous/health", context=ctx)
            except urllib.error.HTTPError as e:
                print("STATUS", e.code, e.headers.get("x-amzn-ErrorType"))
            """
        let port = cloud.port
        let r = try await offPool { try runProcess(TestPaths.python, ["-c", script, String(port), bundle], environment: ProcessInfo.processInfo.environment) }
        #expect(r.stdout.contains("STATUS 403 MissingAuthenticationToken"), "\(r.stdout)\n\(r.stderr)")
        let key = try FileManager.default.attributesOfItem(atPath: cloud.dir.appendingPathComponent("tls/key.pem").path)
        #expect((key[.posixPermissions] as? Int) == 0o600)
    }
}
