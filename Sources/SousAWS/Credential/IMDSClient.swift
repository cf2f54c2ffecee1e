public import Foundation
public import SousHTTP

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
        return try AWSCredentials.parse(json: body, source: "EC2 instance metadata")
    }

    /// The instance's region.
    public func region() async throws -> String {
        let t = try await token()
        return String(decoding: try await get("/latest/meta-data/placement/region", token: t), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
