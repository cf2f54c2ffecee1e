import Foundation
import SousHTTP
import SousTestSupport
import Testing

@testable import SousAWS

@Suite("AWSClient request building")
struct AWSClientTests {
    func client(_ env: [String: String]) throws -> AWSClient {
        var e = env
        e["HOME"] = "/nonexistent"
        return AWSClient(
            configuration: try AWSConfiguration(environment: e), region: "eu-west-1",
            credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKID", secretAccessKey: "s", sessionToken: "tok")),
            now: { Date(timeIntervalSince1970: 1_440_938_160) })
    }

    @Test("S3 over HTTPS: virtual-hosted, key encoded once, UNSIGNED-PAYLOAD, token header; verifier accepts it")
    func virtualHosted() async throws {
        let c = try client([:])
        let s3 = S3Client(c)
        #expect(!s3.pathStyle)
        var r = s3.request("PutObject", "PUT", bucket: "my-bucket", key: "dir/a b+c.txt")
        r.body = .bytes(Data("hello".utf8))
        let req = try await c.signedRequest(r)
        #expect(req.url.absoluteString == "https://my-bucket.s3.eu-west-1.amazonaws.com/dir/a%20b%2Bc.txt")
        #expect(req.headers["Host"] == "my-bucket.s3.eu-west-1.amazonaws.com")
        #expect(req.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD")
        #expect(req.headers["X-Amz-Security-Token"] == "tok")
        #expect(req.headers["Authorization"]?.contains("Credential=AKID/20150830/eu-west-1/s3/aws4_request") == true)
        let outcome = SigV4Verifier(maxClockSkew: nil).verify(
            method: "PUT", path: req.url.path(percentEncoded: true), rawQuery: "", headers: Array(req.headers.map { ($0.name, $0.value) }),
            bodySHA256: nil, lookup: { _ in .init(secretAccessKey: "s", sessionToken: "tok") })
        #expect(outcome.isValid)
        // Dotted bucket names fall back to path style (TLS wildcard certificates).
        let dotted = try await c.signedRequest(s3.request("GetObject", "GET", bucket: "my.bucket", key: "k"))
        #expect(dotted.url.absoluteString == "https://s3.eu-west-1.amazonaws.com/my.bucket/k")
    }

    @Test("S3 over HTTP to a non-loopback endpoint override: path style and the real payload hash")
    func pathStyleHTTP() async throws {
        let c = try client(["AWS_ENDPOINT_URL_S3": "http://10.0.0.5:9000"])
        let s3 = S3Client(c)
        #expect(s3.pathStyle)
        var r = s3.request("PutObject", "PUT", bucket: "b", key: "k", query: [("partNumber", "1"), ("uploadId", "a/b=")])
        r.body = .bytes(Data("hello".utf8))
        let req = try await c.signedRequest(r)
        #expect(req.url.absoluteString == "http://10.0.0.5:9000/b/k?partNumber=1&uploadId=a%2Fb%3D")
        #expect(req.headers["Host"] == "10.0.0.5:9000")
        #expect(req.headers["x-amz-content-sha256"] == AWSHashing.sha256Hex(Data("hello".utf8)))
    }

    @Test("Upload bodies: UNSIGNED-PAYLOAD over HTTPS and to loopback, the real hash over plain HTTP elsewhere")
    func unsignedPayloadOnlyWhereNothingCanAlterTheBody() async throws {
        for (endpoint, unsigned) in [
            ("http://127.0.0.1:9000", true), ("http://localhost:9000", true), ("http://[::1]:9000", true),
            ("http://minio.localhost", true), ("https://s3.example.com", true),
            ("http://10.0.0.5:9000", false), ("http://s3.example.com", false), ("http://127.0.0.1.example.com", false),
        ] {
            let c = try client(["AWS_ENDPOINT_URL_S3": endpoint])
            var r = S3Client(c).request("PutObject", "PUT", bucket: "b", key: "k")
            r.body = .bytes(Data("hello".utf8))
            r.unsignedPayload = true
            let req = try await c.signedRequest(r)
            let expected = unsigned ? "UNSIGNED-PAYLOAD" : AWSHashing.sha256Hex(Data("hello".utf8))
            #expect(req.headers["x-amz-content-sha256"] == expected, "\(endpoint)")
        }
        #expect(AWSClient.isLoopback(hostHeader: "127.10.0.1:80"))
        #expect(!AWSClient.isLoopback(hostHeader: "128.0.0.1"))
        #expect(!AWSClient.isLoopback(hostHeader: "[2001:db8::1]:443"))
    }

    @Test("SageMaker JSON 1.1 requests sign content-type and x-amz-target")
    func sageMakerSigning() async throws {
        let c = try client([:])
        var r = AWSRequest(service: .sagemaker, operation: "ListEndpoints", method: "POST")
        r.headers.set("Content-Type", "application/x-amz-json-1.1")
        r.headers.set("X-Amz-Target", "SageMaker.ListEndpoints")
        r.body = .bytes(Data("{}".utf8))
        let req = try await c.signedRequest(r)
        #expect(req.url.absoluteString == "https://api.sagemaker.eu-west-1.amazonaws.com/")
        #expect(req.headers["Authorization"]?.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target") == true)
        #expect(req.headers["x-amz-content-sha256"] == nil)
        let iam = try await c.signedRequest(AWSRequest(service: .iam, operation: "GetRole", method: "POST"))
        #expect(iam.url.host == "iam.amazonaws.com")
        #expect(iam.headers["Authorization"]?.contains("/us-east-1/iam/aws4_request") == true)
    }
}
