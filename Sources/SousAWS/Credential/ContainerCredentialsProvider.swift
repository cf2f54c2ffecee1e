public import Foundation
public import SousHTTP

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
        return try AWSCredentials.parse(json: resp.body, source: "container credentials endpoint")
    }
}
