import Foundation
import SousHTTP

/// The AWS query protocol: form-encoded POST, XML response.
enum AWSQueryProtocol {
    static func formEncode(_ params: [(String, String)]) -> String {
        params.map { AWSURIEncoding.encode($0.0, keepSlash: false) + "=" + AWSURIEncoding.encode($0.1, keepSlash: false) }
            .joined(separator: "&")
    }

    static func call(client: AWSClient, service: AWSService, version: String, action: String, params: [(String, String)])
        async throws -> XMLNode
    {
        let body = formEncode([("Action", action), ("Version", version)] + params)
        var req = AWSRequest(service: service, operation: action, method: "POST", path: "/")
        req.headers.set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        req.body = .bytes(Data(body.utf8))
        let resp = try await client.send(req)
        guard let root = XMLNode.parse(resp.body) else {
            throw AWSError(
                service: AWSClient.serviceDisplayName(service), operation: action, status: resp.status,
                code: "MalformedResponse", message: "The response is not XML")
        }
        return root
    }
}
