import Foundation
import SousAWS
import SousHTTP
import SousTestSupport
import Synchronization
import Testing

/// Drives Tests/python/aws_fake_server.py: the AWS client against scripted resets, 5xx and throttling.
@Suite("Retries against a loopback fault server")
struct RetryFaultTests {
    struct LoggedRequest: Decodable {
        var method: String
        var path: String
        var query: String
        var objects: Int
        var content_md5_ok: Bool
        /// Lower-cased names.
        var headers: [String: String]
    }

    func script(_ port: Int, _ steps: [[String: any Sendable]]) async throws {
        let data = try JSONSerialization.data(withJSONObject: steps)
        var r = HTTPRequest(method: "POST", url: URL(string: "http://127.0.0.1:\(port)/__reset")!)
        _ = try await HTTPClient.shared.send(r)
        r = HTTPRequest(method: "POST", url: URL(string: "http://127.0.0.1:\(port)/__script")!, body: .bytes(data))
        _ = try await HTTPClient.shared.send(r)
    }

    func log(_ port: Int) async throws -> [LoggedRequest] {
        let r = try await HTTPClient.shared.send(HTTPRequest(url: URL(string: "http://127.0.0.1:\(port)/__log")!))
        return try JSONDecoder().decode([LoggedRequest].self, from: r.body)
    }

    /// A client whose every endpoint is the fake server, with recorded (not slept) backoff delays.
    final class Delays: Sendable {
        let m = Mutex<[Duration]>([])
        func withLock<T: Sendable>(_ f: (inout [Duration]) -> T) -> T { m.withLock { f(&$0) } }
    }

    func client(_ port: Int, maxAttempts: Int, delays: Delays) throws -> AWSClient {
        let env = [
            "AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)", "AWS_ACCESS_KEY_ID": "AKIDTEST",
            "AWS_SECRET_ACCESS_KEY": "secret", "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true",
        ]
        let config = try AWSConfiguration(environment: env)
        var retry = AWSRetryStrategy(maxAttempts: maxAttempts)
        retry.sleep = { d in delays.withLock { $0.append(d) } }
        return AWSClient(
            configuration: config, region: "us-east-1",
            credentials: StaticCredentialsProvider(AWSCredentials(accessKeyId: "AKIDTEST", secretAccessKey: "secret")),
            http: HTTPClient(), retry: retry)  // own client: the first request opens a fresh connection
    }

    @Test("reset, 500, 503 and 400 ThrottlingException are retried with backoff; then success")
    func retried() async throws {
        let server = try await startFakeAWS()
        defer { server.stop() }
        let delays = Delays()
        let c = try client(server.port, maxAttempts: 5, delays: delays)
        try await script(server.port, [
            ["reset": true],
            ["status": 500, "body": "<Error><Code>InternalError</Code><Message>boom</Message></Error>"],
            ["status": 503, "body": "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"],
            ["status": 400, "body": #"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
             "headers": ["Content-Type": "application/x-amz-json-1.1"]],
            ["status": 200, "body": #"{"EndpointName":"e1","EndpointArn":"arn:e1","EndpointConfigName":"c1","EndpointStatus":"InService"}"#],
        ])
        let e = try await SageMakerClient(c).describeEndpoint("e1")
        #expect(e.status == "InService")
        #expect(e.configName == "c1")
        let requests = try await log(server.port)
        #expect(requests.count == 5)
        let d = delays.withLock { $0 }
        #expect(d.count == 4)
        // Full jitter: delay i is within [0, 2^(i-1)] seconds.
        for (i, delay) in d.enumerated() { #expect(delay <= .seconds(1 << i)) }
    }

    @Test("a plain 400 fails at once with its message; retries stop at max attempts")
    func notRetried() async throws {
        let server = try await startFakeAWS()
        defer { server.stop() }
        let delays = Delays()
        let c = try client(server.port, maxAttempts: 3, delays: delays)
        try await script(server.port, [
            ["status": 400, "body": #"{"__type":"com.amazon.coral.validate#ValidationException","Message":"Could not find endpoint \"nope\"."}"#,
             "headers": ["x-amzn-RequestId": "rid-42"]]
        ])
        do {
            _ = try await SageMakerClient(c).describeEndpoint("nope")
            Issue.record("expected an error")
        } catch let e as AWSError {
            #expect(e.code == "ValidationException")
            #expect(e.status == 400)
            #expect(e.requestId == "rid-42")
            #expect(e.description == "SageMaker DescribeEndpoint failed with ValidationException (HTTP 400): Could not find endpoint \"nope\". (request id rid-42)")
        }
        #expect(try await log(server.port).count == 1)
        #expect(delays.withLock { $0.isEmpty })

        try await script(server.port, [["status": 503], ["status": 503], ["status": 503], ["status": 200]])
        await #expect(throws: AWSError.self) { _ = try await STSClient(c).getCallerIdentity() }
        #expect(try await log(server.port).count == 3)
    }

    @Test("an answer without its ARN (or STS identity) is a MalformedResponse naming the operation, not an empty string")
    func missingARN() async throws {
        let server = try await startFakeAWS()
        defer { server.stop() }
        let c = try client(server.port, maxAttempts: 1, delays: Delays())
        try await script(server.port, [
            ["status": 200, "body": "{}"],
            ["status": 200, "body": #"{"EndpointName":"e1","EndpointConfigName":"c1","EndpointStatus":"InService"}"#],
            ["status": 200, "body": "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>111122223333</Account><UserId>U</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>"],
        ])
        let sm = SageMakerClient(c)
        let create = try await #require(throws: AWSError.self) {
            try await sm.createModel(SageMakerModelSpec(name: "m", executionRoleArn: "arn:aws:iam::1:role/r", image: "img"))
        }
        #expect(create.code == "MalformedResponse" && create.operation == "CreateModel")
        #expect(create.description == "SageMaker CreateModel failed with MalformedResponse (HTTP 200): The CreateModel response holds no ModelArn.")
        let describe = try await #require(throws: AWSError.self) { try await sm.describeEndpoint("e1") }
        #expect(describe.code == "MalformedResponse" && describe.operation == "DescribeEndpoint" && describe.message.contains("EndpointArn"))
        let identity = try await #require(throws: AWSError.self) { try await STSClient(c).getCallerIdentity() }
        #expect(identity.code == "MalformedResponse" && identity.operation == "GetCallerIdentity")
    }

    @Test("a multipart upload that fails after its retries keeps its state and resumes; 200-with-Error on Complete is an error")
    func multipartFailureKeepsItsState() async throws {
        let server = try await startFakeAWS()
        defer { server.stop() }
        let delays = Delays()
        let c = try client(server.port, maxAttempts: 3, delays: delays)
        let dir = try TestPaths.makeTemporaryDirectory("sous-s3-abort")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("big.bin")
        let bytes = Data((0..<5000).map { UInt8($0 % 251) })
        try bytes.write(to: file)
        var options = S3TransferOptions()
        options.multipartThreshold = 1000
        options.partSize = 2000
        options.minimumPartSize = 1
        options.concurrency = 1
        options.skipUnchanged = false
        options.stateDirectory = dir.appendingPathComponent("state").path
        try await script(server.port, [
            ["status": 200, "body": "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>UP1</UploadId></InitiateMultipartUploadResult>"],
            ["status": 200, "headers": ["ETag": "\"e1\""]],
            ["status": 503, "body": "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"],
            ["status": 503, "body": "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"],
            ["status": 503, "body": "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"],
        ])
        let s3 = S3Client(c)
        await #expect(throws: AWSError.self) {
            _ = try await s3.uploadFile(file.path, bucket: "b", key: "big key.bin", options: options)
        }
        var reqs = try await log(server.port)
        // No AbortMultipartUpload: the part already sent stays for the next run.
        #expect(reqs.map(\.method) == ["POST", "PUT", "PUT", "PUT", "PUT"])
        #expect(reqs[0].path == "/b/big%20key.bin")
        let statePath = S3MultipartState.path(directory: options.stateDirectory!, bucket: "b", key: "big key.bin")
        #expect(S3MultipartState.load(from: statePath)?.uploadId == "UP1")

        // The next run asks S3 for the parts it has, checks part 1 against the file, sends parts 2 and 3.
        let md5 = AWSHashing.md5Hex(bytes.prefix(2000))
        try await script(server.port, [
            ["status": 200, "body": "<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>\"\(md5)\"</ETag><Size>2000</Size></Part><IsTruncated>false</IsTruncated></ListPartsResult>"],
            ["status": 200, "headers": ["ETag": "\"e2\""]],
            ["status": 200, "headers": ["ETag": "\"e3\""]],
            ["status": 200, "body": "<CompleteMultipartUploadResult><ETag>\"x-3\"</ETag></CompleteMultipartUploadResult>"],
        ])
        let resumed = try await s3.uploadFile(file.path, bucket: "b", key: "big key.bin", options: options)
        #expect(resumed.partsReused == 1)
        reqs = try await log(server.port)
        #expect(reqs.map(\.method) == ["GET", "PUT", "PUT", "POST"])
        #expect(!FileManager.default.fileExists(atPath: statePath))

        try await script(server.port, [
            ["status": 200, "body": "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>"],
            ["status": 200, "body": "<Error><Code>InvalidPart</Code><Message>One or more of the specified parts could not be found.</Message></Error>"],
        ])
        do {
            try await s3.completeMultipartUpload(bucket: "b", key: "k", uploadId: "UP1", parts: [S3Part(number: 1, etag: "\"e1\"", size: 1)])
            Issue.record("expected an error")
        } catch let e as AWSError {
            #expect(e.code == "InvalidPart")  // InternalError in a 200 was retried, InvalidPart was not
            #expect(e.status == 200)
        }
    }

    @Test("the checksums S3 reports back are checked: a part or an object whose CRC32 differs fails the upload")
    func checksumsAreChecked() async throws {
        let server = try await startFakeAWS()
        defer { server.stop() }
        let c = try client(server.port, maxAttempts: 1, delays: Delays())
        let dir = try TestPaths.makeTemporaryDirectory("sous-s3-crc-check")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("big.bin")
        try Data((0..<4000).map { UInt8($0 % 251) }).write(to: file)
        var options = S3TransferOptions()
        options.multipartThreshold = 1000
        options.partSize = 2000
        options.minimumPartSize = 1
        options.concurrency = 1
        options.skipUnchanged = false
        let created: [String: any Sendable] = [
            "status": 200, "body": "<InitiateMultipartUploadResult><UploadId>UP1</UploadId></InitiateMultipartUploadResult>",
        ]
        let s3 = S3Client(c)
        // A part stored with another CRC32 than the one sent.
        try await script(server.port, [created, ["status": 200, "headers": ["ETag": "\"e1\"", "x-amz-checksum-crc32": "AAAAAA=="]], ["status": 204]])
        let part = try await #require(throws: AWSError.self) { _ = try await s3.uploadFile(file.path, bucket: "b", key: "k", options: options) }
        #expect(part.code == "ChecksumMismatch" && part.operation == "UploadPart", "\(part)")
        #expect(part.description.contains("AAAAAA=="))
        // The object's full CRC32 reported by CompleteMultipartUpload differs from the parts'.
        try await script(server.port, [
            created, ["status": 200, "headers": ["ETag": "\"e1\""]], ["status": 200, "headers": ["ETag": "\"e2\""]],
            ["status": 200, "body": "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ChecksumType>FULL_OBJECT</ChecksumType></CompleteMultipartUploadResult>"],
        ])
        let object = try await #require(throws: AWSError.self) { _ = try await s3.uploadFile(file.path, bucket: "b", key: "k", options: options) }
        #expect(object.code == "ChecksumMismatch" && object.operation == "CompleteMultipartUpload", "\(object)")
        // What was sent: the algorithm and type on create, the part CRCs, and the full-object CRC on complete.
        let sent = try await log(server.port)
        #expect(sent.map(\.method) == ["POST", "PUT", "PUT", "POST"])
        #expect(sent[0].headers["x-amz-checksum-algorithm"] == "CRC32" && sent[0].headers["x-amz-checksum-type"] == "FULL_OBJECT")
        #expect(sent[1].headers["x-amz-checksum-crc32"] != nil && sent[2].headers["x-amz-checksum-crc32"] != nil)
        #expect(sent[3].headers["x-amz-checksum-crc32"] != nil && sent[3].headers["x-amz-checksum-type"] == "FULL_OBJECT")
    }

    @Test("an ExpiredToken answer refreshes cached credentials once and retries")
    func expiredToken() async throws {
        let server = try await startFakeAWS()
        defer { server.stop() }
        let fetches = Delays()
        let provider = CachingCredentialsProvider(source: "test") {
            let n = fetches.withLock { d -> Int in
                d.append(.zero)
                return d.count
            }
            return AWSCredentials(accessKeyId: "K\(n)", secretAccessKey: "s", sessionToken: "t\(n)", expiration: Date().addingTimeInterval(3600))
        }
        let env = ["AWS_ENDPOINT_URL": "http://127.0.0.1:\(server.port)", "HOME": "/nonexistent"]
        let c = AWSClient(configuration: try AWSConfiguration(environment: env), region: "us-east-1", credentials: provider)
        try await script(server.port, [
            ["status": 403, "body": "<ErrorResponse><Error><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error></ErrorResponse>"],
            ["status": 200, "body": "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>111122223333</Account><Arn>arn:aws:iam::111122223333:user/u</Arn><UserId>U</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>"],
        ])
        let id = try await STSClient(c).getCallerIdentity()
        #expect(id.account == "111122223333")
        #expect(fetches.withLock { $0.count } == 2)
    }

    @Test("DeleteObjects sends batches of at most 1,000 keys, each with a correct Content-MD5")
    func deleteBatches() async throws {
        let server = try await startFakeAWS()
        defer { server.stop() }
        let c = try client(server.port, maxAttempts: 3, delays: Delays())
        let keys = (0..<2500).map { "prefix/key & <\($0)>" }
        let failures = try await S3Client(c).deleteObjects(bucket: "b", keys: keys)
        #expect(failures.isEmpty)
        let reqs = try await log(server.port)
        #expect(reqs.map(\.objects) == [1000, 1000, 500])
        #expect(reqs.allSatisfy { $0.method == "POST" && $0.path == "/b" && $0.query == "delete=" && $0.content_md5_ok })
    }
}
