import Foundation
import SousAWS
import SousTestSupport
import Testing

@Suite("AWS shared config files, profiles, regions and endpoints")
struct ConfigTests {
    func withFiles(config: String, credentials: String, _ body: ([String: String]) throws -> Void) throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-aws-config")
        defer { try? FileManager.default.removeItem(at: dir) }
        try config.write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try credentials.write(to: dir.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
        try body([
            "HOME": dir.path,
            "AWS_CONFIG_FILE": dir.appendingPathComponent("config").path,
            "AWS_SHARED_CREDENTIALS_FILE": dir.appendingPathComponent("credentials").path,
        ])
    }

    let config = """
        # comment
        [default]
        region = eu-west-1
        retry_mode = legacy

        [profile dev]
        region=us-west-2 ; inline comment
        max_attempts = 7
        services = local
        aws_access_key_id = CONFIGKEY
        aws_secret_access_key = configsecret

        [profile   spaced  ]
        endpoint_url = http://127.0.0.1:9000/

        [services local]
        s3 =
          endpoint_url = http://localhost:4566
        sagemaker_runtime =
          endpoint_url = http://localhost:8080
        """
    let credentials = """
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = sec/ret+default
        [dev]
        aws_access_key_id = AKIADEV
        aws_secret_access_key = devsecret
        aws_session_token = devtoken
        """

    @Test("INI parsing: sections, comments, nested service sections")
    func ini() {
        let ini = AWSINIFile(parsing: config)
        #expect(ini.sections["default"]?["region"] == "eu-west-1")
        #expect(ini.sections["profile dev"]?["region"] == "us-west-2")
        #expect(ini.sections["profile spaced"]?["endpoint_url"] == "http://127.0.0.1:9000/")
        #expect(ini.sections["services local"]?["s3.endpoint_url"] == "http://localhost:4566")
        #expect(ini.sections["services local"]?["sagemaker_runtime.endpoint_url"] == "http://localhost:8080")
    }

    @Test("profile selection, region order, retry settings, credentials file wins over config")
    func profiles() throws {
        try withFiles(config: config, credentials: credentials) { env in
            let d = try AWSConfiguration(environment: env)
            #expect(d.profileName == "default")
            #expect(d.region == "eu-west-1")
            #expect(d.retry.mode == .legacy)
            #expect(d.retry.maxAttempts == 5)
            var e = env
            e["AWS_PROFILE"] = "dev"
            let dev = try AWSConfiguration(environment: e)
            #expect(dev.region == "us-west-2")
            #expect(dev.retry.maxAttempts == 7)
            #expect(dev.profile["aws_access_key_id"] == "AKIADEV")
            e["AWS_DEFAULT_REGION"] = "ap-south-1"
            #expect(try AWSConfiguration(environment: e).region == "ap-south-1")
            e["AWS_REGION"] = "sa-east-1"
            e["AWS_MAX_ATTEMPTS"] = "2"
            e["AWS_RETRY_MODE"] = "adaptive"
            let r = try AWSConfiguration(environment: e)
            #expect(r.region == "sa-east-1")
            #expect(r.retry == AWSRetrySettings(mode: .adaptive, maxAttempts: 2))
            #expect(throws: AWSConfigError.self) { try AWSConfiguration(environment: env, profile: "nope") }
            do {
                _ = try AWSConfiguration(environment: env, profile: "nope")
            } catch {
                #expect("\(error)".contains("\"nope\" was not found"))
            }
        }
    }

    @Test("endpoint overrides: service env > global env > services section > profile endpoint_url")
    func endpoints() throws {
        try withFiles(config: config, credentials: credentials) { env in
            var e = env
            e["AWS_PROFILE"] = "dev"
            var c = try AWSConfiguration(environment: e)
            #expect(c.endpoint(for: .s3, region: "us-west-2").absoluteString == "http://localhost:4566")
            #expect(c.endpoint(for: .sagemakerRuntime, region: "us-west-2").absoluteString == "http://localhost:8080")
            #expect(c.endpoint(for: .sagemaker, region: "us-west-2").absoluteString == "https://api.sagemaker.us-west-2.amazonaws.com")
            #expect(c.endpoint(for: .sts, region: "cn-north-1").absoluteString == "https://sts.cn-north-1.amazonaws.com.cn")
            e["AWS_ENDPOINT_URL"] = "http://127.0.0.1:5000"
            c = try AWSConfiguration(environment: e)
            #expect(c.endpoint(for: .s3, region: "x").absoluteString == "http://127.0.0.1:5000")
            #expect(c.endpoint(for: .iam, region: "x").absoluteString == "http://127.0.0.1:5000")
            e["AWS_ENDPOINT_URL_SAGEMAKER"] = "http://127.0.0.1:5001/"
            c = try AWSConfiguration(environment: e)
            #expect(c.endpoint(for: .sagemaker, region: "x").absoluteString == "http://127.0.0.1:5001")
            e["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true"
            c = try AWSConfiguration(environment: e)
            #expect(c.endpoint(for: .sagemaker, region: "eu-west-1").absoluteString == "https://api.sagemaker.eu-west-1.amazonaws.com")
            var s = env
            s["AWS_PROFILE"] = "spaced"
            c = try AWSConfiguration(environment: s)
            #expect(c.endpoint(for: .sts, region: "us-east-1").absoluteString == "http://127.0.0.1:9000")
            #expect(AWSService.iam.signingRegion("eu-west-1") == "us-east-1")
        }
    }
}

@Suite("AWS error parsing")
struct AWSErrorTests {
    func none(_: String) -> String? { nil }

    @Test("JSON errors: __type with namespace, x-amzn-ErrorType, message casing, request id")
    func json() {
        let body = Data(#"{"__type":"com.amazonaws.sagemaker#ValidationException","Message":"Could not find model \"m1\"."}"#.utf8)
        let e = AWSError.parse(
            service: "SageMaker", operation: "DescribeModel", status: 400,
            header: { $0.lowercased() == "x-amzn-requestid" ? "req-1" : nil }, body: body)
        #expect(e.code == "ValidationException")
        #expect(e.message == "Could not find model \"m1\".")
        #expect(e.requestId == "req-1")
        #expect(e.description == "SageMaker DescribeModel failed with ValidationException (HTTP 400): Could not find model \"m1\". (request id req-1)")
        let h = AWSError.parse(
            service: "SageMaker", operation: "CreateEndpoint", status: 400,
            header: { $0 == "x-amzn-ErrorType" ? "ResourceLimitExceeded:http://internal.amazon.com/" : nil },
            body: Data(#"{"message":"quota"}"#.utf8))
        #expect(h.code == "ResourceLimitExceeded")
        #expect(h.hint?.contains("Service Quotas") == true)
        #expect(!h.isRetryable)
        let t = AWSError.parse(service: "SageMaker", operation: "X", status: 400, header: none, body: Data(#"{"__type":"ThrottlingException"}"#.utf8))
        #expect(t.isThrottling && t.isRetryable)
    }

    @Test("XML errors: S3 <Error>, query <ErrorResponse>, empty HEAD 404, 200-with-Error")
    func xml() {
        let s3 = Data("""
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match &amp; so on</Message><AWSAccessKeyId>AKIAXX</AWSAccessKeyId><StringToSign>secret-ish</StringToSign><RequestId>R1</RequestId></Error>
            """.utf8)
        let e = AWSError.parse(service: "S3", operation: "PutObject", status: 403, header: none, body: s3)
        #expect(e.code == "SignatureDoesNotMatch")
        #expect(e.message == "The request signature we calculated does not match & so on")
        #expect(e.requestId == "R1")
        #expect(!e.description.contains("secret-ish"))
        #expect(!e.description.contains("AKIAXX"))
        #expect(e.description.contains("Hint: the secret access key does not match"))
        let q = Data("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error><RequestId>abc</RequestId></ErrorResponse>".utf8)
        let x = AWSError.parse(service: "STS", operation: "GetCallerIdentity", status: 403, header: none, body: q)
        #expect(x.code == "ExpiredToken")
        #expect(x.requestId == "abc")
        #expect(x.hint?.contains("expired") == true)
        let head = AWSError.parse(service: "S3", operation: "HeadObject", status: 404, header: none, body: Data())
        #expect(head.code == "NotFound")
        #expect(AWSError.parse(service: "S3", operation: "GetObject", status: 503, header: none, body: Data()).isRetryable)
        let embedded = AWSError.embeddedS3Error(
            operation: "CompleteMultipartUpload", header: none,
            body: Data("<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>".utf8))
        #expect(embedded?.code == "InternalError")
        #expect(embedded?.status == 200)
        #expect(AWSError.embeddedS3Error(operation: "C", header: none, body: Data("<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>".utf8)) == nil)
        let nb = AWSError.parse(service: "S3", operation: "PutObject", status: 404, header: none, body: Data("<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>".utf8))
        #expect(nb.description == "S3 PutObject failed with NoSuchBucket (HTTP 404): The specified bucket does not exist. Hint: the bucket does not exist (or is in another account); create it or fix the bucket name.")
    }

    @Test("isNotFound: S3 404s (NoSuchKey, NoSuchBucket, NoSuchUpload, bare HEAD), SageMaker's ValidationException 'Could not find'; nothing else")
    func notFound() async throws {
        func e(_ service: String, _ status: Int, _ code: String, _ message: String = "") -> AWSError {
            AWSError(service: service, operation: "Op", status: status, code: code, message: message)
        }
        let missing = [
            e("S3", 404, "NoSuchKey"), e("S3", 404, "NoSuchBucket"), e("S3", 404, "NoSuchUpload"), e("S3", 404, "NotFound"),
            e("S3", 200, "NoSuchUpload"), e("SageMaker", 400, "ValidationException", #"Could not find endpoint "e"."#),
            e("SageMaker", 400, "ValidationException", "Trial 'x' does not exist."), e("SageMaker", 400, "ResourceNotFound"),
        ]
        for m in missing { #expect(m.isNotFound, "\(m)") }
        let present = [
            e("S3", 403, "AccessDenied"), e("S3", 409, "BucketNotEmpty"), e("S3", 503, "SlowDown"),
            e("SageMaker", 400, "ValidationException", "Value 'ml.x' at 'instanceType' failed to satisfy constraint"),
            e("SageMaker", 400, "ResourceLimitExceeded", "Could not find capacity"),
        ]
        for p in present { #expect(!p.isNotFound, "\(p)") }
        #expect(try await AWSError.nilIfNotFound { () async throws -> Int in throw e("S3", 404, "NoSuchKey") } == nil)
        #expect(try await AWSError.nilIfNotFound { 7 } == 7)
        await #expect(throws: AWSError.self) { _ = try await AWSError.nilIfNotFound { () async throws -> Int in throw e("S3", 403, "AccessDenied") } }
    }
}

@Suite("Standard retry strategy")
struct RetryStrategyTests {
    @Test("classification: throttling, transient codes, 5xx, transport; never other 4xx")
    func classification() {
        func err(_ status: Int, _ code: String) -> AWSRetryStrategy.Failure {
            .service(AWSError(service: "S", operation: "O", status: status, code: code, message: ""))
        }
        #expect(AWSRetryStrategy.isRetryable(err(400, "ThrottlingException")))
        #expect(AWSRetryStrategy.isRetryable(err(503, "SlowDown")))
        #expect(AWSRetryStrategy.isRetryable(err(400, "RequestTimeout")))
        for s in [500, 502, 503, 504] { #expect(AWSRetryStrategy.isRetryable(err(s, "X"))) }
        #expect(!AWSRetryStrategy.isRetryable(err(400, "ValidationException")))
        #expect(!AWSRetryStrategy.isRetryable(err(403, "AccessDenied")))
        #expect(!AWSRetryStrategy.isRetryable(err(501, "NotImplemented")))
        #expect(AWSRetryStrategy.isRetryable(.transport(transient: true, timeout: false)))
        #expect(!AWSRetryStrategy.isRetryable(.transport(transient: false, timeout: false)))
    }

    @Test("full-jitter backoff capped at 20 s; legacy defaults to 5 attempts; quota drains and refills")
    func backoff() {
        var s = AWSRetryStrategy(maxAttempts: 10)
        s.random = { 0.5 }
        #expect(s.delay(beforeRetry: 1) == .milliseconds(500))
        #expect(s.delay(beforeRetry: 2) == .milliseconds(1000))
        #expect(s.delay(beforeRetry: 4) == .milliseconds(4000))
        #expect(s.delay(beforeRetry: 9) == .milliseconds(10000))
        s.random = { 0.999 }
        #expect(s.delay(beforeRetry: 30) <= .seconds(20))
        #expect(AWSRetryStrategy(settings: .init(mode: .legacy)).maxAttempts == 5)
        #expect(AWSRetryStrategy(settings: .init(mode: .legacy, maxAttempts: 3)).maxAttempts == 3)
        #expect(AWSRetryStrategy(settings: .init(mode: .standard)).maxAttempts == 3)
        let q = AWSRetryQuota(capacity: 12)
        #expect(q.acquire(timeout: false) == 5)
        #expect(q.acquire(timeout: false) == 5)
        #expect(q.acquire(timeout: false) == nil)
        q.release(spent: 5)
        #expect(q.available == 7)
        q.release(spent: 0)
        #expect(q.available == 8)
    }
}
