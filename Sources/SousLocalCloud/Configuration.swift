public import Foundation
import SousCrypto

/// The access key the local cloud accepts. It is generated once per workspace and kept in
/// `credentials.json` (mode 0600) beside `server.json`; it is not an AWS credential.
public struct LocalCloudCredentials: Sendable, Codable, Equatable {
    public var accessKeyId: String
    public var secretAccessKey: String

    public init(accessKeyId: String, secretAccessKey: String) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
    }

    /// Fresh random credentials (`LOCAL…` access key id, 40-character secret).
    public static func generate() -> LocalCloudCredentials {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let id = "LOCAL" + Digest.randomBytes(15).map { String(alphabet[Int($0) % alphabet.count]) }.joined()
        let secret = Digest.randomBytes(30).base64String.replacingOccurrences(of: "+", with: "A")
            .replacingOccurrences(of: "/", with: "B")
        return LocalCloudCredentials(accessKeyId: id, secretAccessKey: String(secret.prefix(40)))
    }
}

/// Where the local cloud keeps its files: `<workspace>/.sous/local-cloud/{server.json,credentials.json,environment.key,data/,logs/,tls/}`.
public struct LocalCloudPaths: Sendable {
    public var root: URL
    public init(workspace: URL) { root = workspace.appendingPathComponent(".sous/local-cloud", isDirectory: true) }
    public init(root: URL) { self.root = root }
    public var serverFile: URL { root.appendingPathComponent("server.json") }
    public var credentialsFile: URL { root.appendingPathComponent("credentials.json") }
    public var dataDirectory: URL { root.appendingPathComponent("data", isDirectory: true) }
    public var logsDirectory: URL { root.appendingPathComponent("logs", isDirectory: true) }
    /// The server's TLS certificate and key, and `ca-bundle.pem` (the system's CA bundle plus that certificate, for
    /// `SSL_CERT_FILE`).
    public var tlsDirectory: URL { root.appendingPathComponent("tls", isDirectory: true) }
    public var certificateBundle: URL { tlsDirectory.appendingPathComponent("ca-bundle.pem") }
    public var logFile: URL { logsDirectory.appendingPathComponent("server.log") }
}

/// Loads a model directory into a text generator (the real one uses SousLLM's Llama runtime).
public typealias ModelLoader = @Sendable (_ directory: URL) throws -> any TextGenerator

/// Everything a `LocalCloudServer` needs.
public struct LocalCloudConfiguration: Sendable {
    /// Folder holding `s3/`, `sagemaker/` and `tmp/`.
    public var dataDirectory: URL
    /// Folder of the TLS certificate (made there on first start; `tls/` beside `dataDirectory` by default).
    public var tlsDirectory: URL
    /// The key that seals models' Environment in `dataDirectory` (made there, mode 0600, on first start;
    /// `environment.key` beside `dataDirectory` by default, so the data folder alone never reveals a secret).
    public var environmentKeyFile: URL
    /// Always loopback.
    public var host: String = "127.0.0.1"
    /// 0 picks a free port.
    public var port: Int = 0
    public var region: String = "us-east-1"
    public var accountId: String = "000000000000"
    public var credentials: LocalCloudCredentials
    /// Environment for the Hugging Face Hub (HF_ENDPOINT, HF_HUB_CACHE, HF_HOME, HF_TOKEN, HF_HUB_OFFLINE).
    public var hubEnvironment: [String: String] = ProcessInfo.processInfo.environment
    /// Loads a model folder (config.json, tokenizer.json, *.safetensors) into a generator.
    public var modelLoader: ModelLoader
    /// Bytes of memory the server may use for models (nil: MemAvailable from /proc/meminfo).
    public var memoryLimit: UInt64?
    /// Seconds an endpoint stays Creating before its model loads (mimics SageMaker's provisioning time;
    /// `SOUS_LOCAL_ENDPOINT_DELAY` for `sous local serve`).
    public var endpointStartupDelay: Double = 0
    /// Called with one line for the server log.
    public var log: @Sendable (String) -> Void = { _ in }

    public init(dataDirectory: URL, credentials: LocalCloudCredentials, modelLoader: @escaping ModelLoader) {
        self.dataDirectory = dataDirectory
        tlsDirectory = dataDirectory.deletingLastPathComponent().appendingPathComponent("tls", isDirectory: true)
        environmentKeyFile = dataDirectory.deletingLastPathComponent().appendingPathComponent("environment.key")
        self.credentials = credentials
        self.modelLoader = modelLoader
    }
}
