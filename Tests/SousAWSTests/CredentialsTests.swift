import Foundation
import SousAWS
import SousHTTP
import SousTestSupport
import Synchronization
import Testing

/// Starts Tests/python/aws_fake_server.py (IMDS, container credentials, scripted faults).
func startFakeAWS() async throws -> TestServerProcess {
    try await TestServerProcess.start(
        executable: TestPaths.python,
        arguments: [TestPaths.packageRoot.appendingPathComponent("Tests/python/aws_fake_server.py").path])
}

@Suite("Credential chain and providers")
struct CredentialsTests {
    /// Temp HOME with config/credentials files; the environment points at them and disables IMDS.
    func sandbox(config: String = "", credentials: String = "") throws -> (URL, [String: String]) {
        let dir = try TestPaths.makeTemporaryDirectory("sous-aws-creds")
        try config.write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try credentials.write(to: dir.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
        return (dir, [
            "HOME": dir.path, "PATH": "/usr/bin:/bin",
            "AWS_CONFIG_FILE": dir.appendingPathComponent("config").path,
            "AWS_SHARED_CREDENTIALS_FILE": dir.appendingPathComponent("credentials").path,
            "AWS_EC2_METADATA_DISABLED": "true",
        ])
    }

    func resolve(_ env: [String: String], profile: String? = nil) async throws -> (String, AWSCredentials) {
        let config = try AWSConfiguration(environment: env, profile: profile)
        let p = try AWSCredentialChain.provider(configuration: config, region: "us-east-1", http: .shared)
        return (p.source, try await p.credentials())
    }

    @Test("order: environment > credentials file > credential_process > config file; explicit profile skips env")
    func chainOrder() async throws {
        let (dir, base) = try sandbox(
            config: """
                [default]
                aws_access_key_id = CONFIGKEY
                aws_secret_access_key = configsecret
                [profile proc]
                credential_process = sh \(FileManager.default.temporaryDirectory.path)/PLACEHOLDER
                aws_access_key_id = CONFIGKEY2
                aws_secret_access_key = configsecret2
                """,
            credentials: """
                [default]
                aws_access_key_id = FILEKEY
                aws_secret_access_key = filesecret
                aws_session_token = filetoken
                """)
        defer { try? FileManager.default.removeItem(at: dir) }
        // credential_process script (expiring credentials).
        let script = dir.appendingPathComponent("creds.sh")
        try """
            #!/bin/sh
            echo '{"Version": 1, "AccessKeyId": "PROCKEY", "SecretAccessKey": "procsecret", "SessionToken": "proctoken", "Expiration": "2099-01-01T00:00:00Z"}'
            """.write(to: script, atomically: true, encoding: .utf8)
        let configText = try String(contentsOf: dir.appendingPathComponent("config"), encoding: .utf8)
            .replacingOccurrences(of: "sh \(FileManager.default.temporaryDirectory.path)/PLACEHOLDER", with: "sh '\(script.path)'")
        try configText.write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)

        var env = base
        env["AWS_ACCESS_KEY_ID"] = "ENVKEY"
        env["AWS_SECRET_ACCESS_KEY"] = "envsecret"
        env["AWS_SESSION_TOKEN"] = "envtoken"
        var (source, c) = try await resolve(env)
        #expect(source == "environment")
        #expect(c == AWSCredentials(accessKeyId: "ENVKEY", secretAccessKey: "envsecret", sessionToken: "envtoken"))

        (source, c) = try await resolve(env, profile: "default")
        #expect(source == "shared credentials file (profile default)")
        #expect(c.accessKeyId == "FILEKEY" && c.sessionToken == "filetoken")

        env["AWS_PROFILE"] = "proc"
        (source, c) = try await resolve(env)
        #expect(source == "environment")  // AWS_PROFILE alone does not skip the environment keys
        env.removeValue(forKey: "AWS_ACCESS_KEY_ID")
        (source, c) = try await resolve(env)
        #expect(source == "credential_process (profile proc)")
        #expect(c.accessKeyId == "PROCKEY" && c.sessionToken == "proctoken")
        #expect(c.expiration == ISO8601DateFormatter().date(from: "2099-01-01T00:00:00Z"))

        // Without the credentials-file section the config-file keys are used.
        try "".write(to: dir.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
        (source, c) = try await resolve(base)
        #expect(source == "config file (profile default)")
        #expect(c.accessKeyId == "CONFIGKEY")
    }

    @Test("nothing configured and IMDS disabled: one clear error without secrets")
    func noCredentials() throws {
        let (dir, env) = try sandbox()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try AWSConfiguration(environment: env)
        #expect(throws: AWSConfigError.self) {
            _ = try AWSCredentialChain.provider(configuration: config, region: "us-east-1", http: .shared)
        }
        do {
            _ = try AWSCredentialChain.provider(configuration: config, region: "us-east-1", http: .shared)
        } catch {
            #expect("\(error)".hasPrefix("No AWS credentials were found"))
            #expect("\(error)".contains("AWS_ACCESS_KEY_ID"))
        }
    }

    @Test("failing credential_process reports its exit status")
    func failingProcess() async throws {
        let (dir, env) = try sandbox(config: "[default]\ncredential_process = sh -c 'exit 3'\n")
        defer { try? FileManager.default.removeItem(at: dir) }
        await #expect(throws: AWSConfigError("credential_process exited with status 3; run it by hand to see why.")) {
            _ = try await resolve(env)
        }
    }

    @Test("container credentials (full URI + authorization token) and IMDSv2 credentials and region")
    func containerAndIMDS() async throws {
        let server = try await startFakeAWS()
        defer { server.stop() }
        let (dir, base) = try sandbox()
        defer { try? FileManager.default.removeItem(at: dir) }
        var env = base
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:\(server.port)/container-creds"
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "Bearer container-token"
        var (source, c) = try await resolve(env)
        #expect(source.hasPrefix("container credentials"))
        #expect(c.accessKeyId == "CONTAINERAKID" && c.sessionToken == "CONTAINERTOKEN")
        #expect((c.expiration?.timeIntervalSinceNow ?? 0) > 3000)

        // A token file wins over the token variable.
        let tokenFile = dir.appendingPathComponent("token")
        try "Bearer wrong".write(to: tokenFile, atomically: true, encoding: .utf8)
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = tokenFile.path
        await #expect(throws: AWSConfigError.self) { _ = try await resolve(env) }

        var imdsEnv = base
        imdsEnv["AWS_EC2_METADATA_DISABLED"] = nil
        imdsEnv["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:\(server.port)/"
        (source, c) = try await resolve(imdsEnv)
        #expect(source == "EC2 instance metadata")
        #expect(c.accessKeyId == "IMDSAKID" && c.secretAccessKey == "IMDSSECRET" && c.sessionToken == "IMDSTOKEN")
        let config = try AWSConfiguration(environment: imdsEnv)
        #expect(config.region == nil)
        #expect(try await config.resolveRegion(http: .shared) == "eu-central-1")
        imdsEnv["AWS_REGION"] = "ap-south-1"
        #expect(try await AWSConfiguration(environment: imdsEnv).resolveRegion(http: .shared) == "ap-south-1")
    }

    @Test("caching provider refreshes 5 minutes before expiry and shares one fetch")
    func caching() async throws {
        let now = Mutex(Date(timeIntervalSince1970: 1_000_000))
        let counter = Mutex(0)
        let provider = CachingCredentialsProvider(source: "test", now: { now.withLock { $0 } }) {
            let n = counter.withLock { c -> Int in
                c += 1
                return c
            }
            return AWSCredentials(
                accessKeyId: "K\(n)", secretAccessKey: "s", sessionToken: "t",
                expiration: Date(timeIntervalSince1970: 1_000_000 + 3600))
        }
        async let a = provider.credentials()
        async let b = provider.credentials()
        let (x, y) = try await (a, b)
        #expect(x.accessKeyId == "K1" && y.accessKeyId == "K1")
        now.withLock { $0 = Date(timeIntervalSince1970: 1_000_000 + 3600 - 301) }
        #expect(try await provider.credentials().accessKeyId == "K1")
        now.withLock { $0 = Date(timeIntervalSince1970: 1_000_000 + 3600 - 299) }
        #expect(try await provider.credentials().accessKeyId == "K2")
        #expect(await provider.fetchCount == 2)
    }
}

@Suite("Assume role through STS (moto)")
struct AssumeRoleTests {
    @Test("profile role_arn + source_profile: AWSClient.make assumes the role and signs with the temporary keys")
    func assumeRole() async throws {
        let moto = try await MotoFixture.start(auth: true)
        defer { moto.server.stop() }
        let dir = try TestPaths.makeTemporaryDirectory("sous-aws-role")
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
            [profile base]
            region = eu-west-1
            endpoint_url = \(moto.endpoint)
            [profile deploy]
            role_arn = arn:aws:iam::123456789012:role/sous-deployer
            source_profile = base
            role_session_name = sous-test
            region = eu-west-1
            endpoint_url = \(moto.endpoint)
            """.write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try """
            [base]
            aws_access_key_id = \(moto.credentials.accessKeyId)
            aws_secret_access_key = \(moto.credentials.secretAccessKey)
            """.write(to: dir.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
        let env = [
            "HOME": dir.path, "AWS_CONFIG_FILE": dir.appendingPathComponent("config").path,
            "AWS_SHARED_CREDENTIALS_FILE": dir.appendingPathComponent("credentials").path,
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "deploy",
        ]
        let client = try await AWSClient.make(environment: env)
        #expect(client.region == "eu-west-1")
        #expect(client.credentialsProvider.source == "assume role arn:aws:iam::123456789012:role/sous-deployer (profile deploy)")
        let creds = try await client.credentialsProvider.credentials()
        #expect(creds.accessKeyId != moto.credentials.accessKeyId)
        #expect(creds.sessionToken != nil && creds.expiration != nil)
        let id = try await STSClient(client).getCallerIdentity()
        #expect(id.arn.contains("assumed-role/sous-deployer/sous-test"))

        // The TGI notebook's role fallback: IAM GetRole by name.
        let iam = IAMClient(moto.client)  // moto answers 500 to IAM calls from an assumed role that does not exist
        let trust = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#
        let arn = try await iam.createRole("sagemaker_execution_role", assumeRolePolicyDocument: trust)
        let role = try await iam.getRole("sagemaker_execution_role")
        #expect(role.arn == arn && role.trusts(service: "sagemaker.amazonaws.com") && !role.trusts(service: "scheduler.amazonaws.com"))
        #expect(arn == "arn:aws:iam::123456789012:role/sagemaker_execution_role")
        do {
            _ = try await iam.getRole("missing-role")
            Issue.record("expected NoSuchEntity")
        } catch let e as AWSError {
            #expect(e.code == "NoSuchEntity")
            #expect(e.service == "IAM" && e.operation == "GetRole")
        }
    }
}
