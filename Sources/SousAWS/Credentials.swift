public import Foundation
public import SousHTTP

/// Supplies AWS credentials, refreshing them when they expire.
public protocol AWSCredentialsProvider: Sendable {
    /// Valid credentials (fetched or refreshed as needed).
    func credentials() async throws -> AWSCredentials
    /// Where the credentials come from, for messages ("environment", "profile dev", "EC2 instance metadata", …).
    var source: String { get }
}

/// Fixed credentials.
public struct StaticCredentialsProvider: AWSCredentialsProvider {
    public let value: AWSCredentials
    public let source: String
    public init(_ value: AWSCredentials, source: String = "static") {
        self.value = value
        self.source = source
    }
    public func credentials() async throws -> AWSCredentials { value }
}

/// Caches credentials from `fetch` until 5 minutes before they expire (never, for credentials without expiry);
/// concurrent callers share one fetch.
public actor CachingCredentialsProvider: AWSCredentialsProvider {
    public nonisolated let source: String
    private let fetch: @Sendable () async throws -> AWSCredentials
    private let now: @Sendable () -> Date
    private let refreshWindow: TimeInterval
    private var cached: AWSCredentials?
    private var inFlight: Task<AWSCredentials, any Error>?
    /// How many times `fetch` ran (for tests and diagnostics).
    public private(set) var fetchCount = 0

    public init(
        source: String, refreshWindow: TimeInterval = 300, now: @escaping @Sendable () -> Date = { Date() },
        fetch: @escaping @Sendable () async throws -> AWSCredentials
    ) {
        self.source = source
        self.fetch = fetch
        self.now = now
        self.refreshWindow = refreshWindow
    }

    public func credentials() async throws -> AWSCredentials {
        if let c = cached, c.expiration.map({ $0.timeIntervalSince(now()) > refreshWindow }) ?? true { return c }
        if let t = inFlight { return try await t.value }
        let fetch = self.fetch
        let task = Task { try await fetch() }
        inFlight = task
        defer { inFlight = nil }
        do {
            let c = try await task.value
            fetchCount += 1
            cached = c
            return c
        } catch {
            // Keep using still-valid cached credentials when a refresh fails.
            if let c = cached, let exp = c.expiration, exp > now() { return c }
            throw error
        }
    }

    /// Drops the cache (e.g. after an ExpiredToken error).
    public func invalidate() { cached = nil }
}

/// Runs a profile's `credential_process` (through `/bin/sh -c`) and parses its JSON output.
public struct ProcessCredentialsProvider: Sendable {
    public let command: String
    public let environment: [String: String]

    public init(command: String, environment: [String: String]) {
        self.command = command
        self.environment = environment
    }

    public func fetch() async throws -> AWSCredentials {
        let command = self.command
        let env = self.environment
        let (status, out): (Int32, Data) = try await withCheckedThrowingContinuation { cont in
            Thread.detachNewThread {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/sh")
                p.arguments = ["-c", command]
                p.environment = env
                let pipe = Pipe()
                p.standardOutput = pipe
                p.standardError = FileHandle.standardError
                do {
                    try p.run()
                } catch {
                    cont.resume(throwing: AWSConfigError("credential_process could not be started: \(error.localizedDescription)."))
                    return
                }
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                cont.resume(returning: (p.terminationStatus, data))
            }
        }
        guard status == 0 else {
            throw AWSConfigError("credential_process exited with status \(status); run it by hand to see why.")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: out) as? [String: Any],
            let akid = obj["AccessKeyId"] as? String, let secret = obj["SecretAccessKey"] as? String
        else {
            throw AWSConfigError("credential_process did not print JSON with AccessKeyId and SecretAccessKey.")
        }
        if let v = obj["Version"] as? Int, v != 1 {
            throw AWSConfigError("credential_process printed Version \(v); only Version 1 is supported.")
        }
        return AWSCredentials(
            accessKeyId: akid, secretAccessKey: secret, sessionToken: obj["SessionToken"] as? String,
            expiration: (obj["Expiration"] as? String).flatMap(AWSDate.parseISO8601))
    }
}

/// ECS / container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`).
public struct ContainerCredentialsProvider: Sendable {
    public let url: URL
    public let environment: [String: String]
    public let http: HTTPClient

    /// nil when neither container variable is set.
    public init?(environment: [String: String], http: HTTPClient) {
        if let rel = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !rel.isEmpty,
            let u = URL(string: "http://169.254.170.2" + rel)
        {
            url = u
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty, let u = URL(string: full) {
            url = u
        } else {
            return nil
        }
        self.environment = environment
        self.http = http
    }

    /// Whether the full URI is allowed (https, loopback, or the ECS/EKS link-local hosts).
    var isAllowedHost: Bool {
        if url.scheme == "https" { return true }
        let host = url.host ?? ""
        return host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
            || host == "169.254.170.2" || host == "169.254.170.23" || host == "fd00:ec2::23" || host == "[fd00:ec2::23]"
    }

    public func fetch() async throws -> AWSCredentials {
        guard isAllowedHost else {
            throw AWSConfigError(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI must use https or a loopback/container host; \(url.host ?? "") is not allowed.")
        }
        var req = HTTPRequest(method: "GET", url: url)
        req.timeouts.connect = .seconds(2)
        req.timeouts.total = .seconds(5)
        if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !file.isEmpty {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw AWSConfigError("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (\(file)) cannot be read.")
            }
            req.headers.set("Authorization", String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            req.headers.set("Authorization", token)
        }
        let resp = try await http.send(req)
        guard resp.status == 200 else {
            throw AWSConfigError("The container credentials endpoint answered HTTP \(resp.status).")
        }
        return try AWSDate.parseCredentialsJSON(resp.body, source: "container credentials endpoint")
    }
}

/// EC2 instance metadata (IMDSv2): token PUT, then the role's credentials.
public struct IMDSClient: Sendable {
    public let endpoint: URL
    public let http: HTTPClient

    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT` or `http://169.254.169.254`.
    public init(environment: [String: String], http: HTTPClient) {
        let e = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://169.254.169.254"
        endpoint = URL(string: e.hasSuffix("/") ? String(e.dropLast()) : e) ?? URL(string: "http://169.254.169.254")!
        self.http = http
    }

    private func request(_ method: String, _ path: String, token: String?) -> HTTPRequest {
        var req = HTTPRequest(method: method, url: URL(string: endpoint.absoluteString + path)!)
        req.timeouts.connect = .seconds(1)
        req.timeouts.total = .seconds(2)
        if let token { req.headers.set("x-aws-ec2-metadata-token", token) }
        return req
    }

    func token() async throws -> String {
        var req = request("PUT", "/latest/api/token", token: nil)
        req.headers.set("x-aws-ec2-metadata-token-ttl-seconds", "21600")
        let r = try await http.send(req)
        guard r.status == 200 else { throw AWSConfigError("EC2 instance metadata refused a session token (HTTP \(r.status)).") }
        return String(decoding: r.body, as: UTF8.self)
    }

    func get(_ path: String, token: String) async throws -> Data {
        let r = try await http.send(request("GET", path, token: token))
        guard r.status == 200 else { throw AWSConfigError("EC2 instance metadata \(path) answered HTTP \(r.status).") }
        return r.body
    }

    /// The instance role's credentials.
    public func credentials() async throws -> AWSCredentials {
        let t = try await token()
        let roles = String(decoding: try await get("/latest/meta-data/iam/security-credentials/", token: t), as: UTF8.self)
        guard let role = roles.split(separator: "\n").first.map(String.init), !role.isEmpty else {
            throw AWSConfigError("This EC2 instance has no IAM role attached.")
        }
        let body = try await get("/latest/meta-data/iam/security-credentials/\(role)", token: t)
        return try AWSDate.parseCredentialsJSON(body, source: "EC2 instance metadata")
    }

    /// The instance's region.
    public func region() async throws -> String {
        let t = try await token()
        return String(decoding: try await get("/latest/meta-data/placement/region", token: t), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Date and credential JSON helpers.
enum AWSDate {
    static func parseISO8601(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s)
    }

    static func parseCredentialsJSON(_ data: Data, source: String) throws -> AWSCredentials {
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let akid = obj["AccessKeyId"] as? String, let secret = obj["SecretAccessKey"] as? String
        else {
            throw AWSConfigError("The \(source) did not return AccessKeyId and SecretAccessKey.")
        }
        if let code = obj["Code"] as? String, code != "Success" {
            throw AWSConfigError("The \(source) answered Code \(code).")
        }
        return AWSCredentials(
            accessKeyId: akid, secretAccessKey: secret, sessionToken: (obj["Token"] ?? obj["SessionToken"]) as? String,
            expiration: (obj["Expiration"] as? String).flatMap(parseISO8601))
    }
}
