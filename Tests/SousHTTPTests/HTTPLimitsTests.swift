import Foundation
import SousTestSupport
import Testing

@testable import SousHTTP

/// What the client refuses: schemes other than http and https (also behind a redirect), and bodies read
/// whole past their cap.
@Suite("HTTPClient limits")
struct HTTPLimitsTests {
    let client = HTTPClient()

    @Test func onlyHTTPAndHTTPSAreSpoken() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-http-scheme")
        defer { try? FileManager.default.removeItem(at: dir) }
        let secret = dir.appendingPathComponent("secret.txt")
        try Data("not for the network".utf8).write(to: secret)
        let direct = try await #require(throws: HTTPError.self) { _ = try await client.send(HTTPRequest(url: secret)) }
        #expect(direct.kind == .unsupportedProtocol)
        #expect(!direct.isTransient)
        try await withServer { base, _ in
            let to = secret.absoluteString.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            var req = HTTPRequest(url: URL(string: "\(base)/redirect?to=\(to)&code=302")!)
            req.followRedirects = true
            let error = try await #require(throws: HTTPError.self) { _ = try await client.send(req) }
            #expect(error.kind == .unsupportedProtocol)
            #expect(!error.description.contains("not for the network"))
        }
    }

    @Test func aBodyReadWholeHasACap() async throws {
        try await withServer { base, _ in
            var req = HTTPRequest(url: URL(string: "\(base)/bytes?n=5000")!)
            req.responseBodyLimit = 4096
            let error = try await #require(throws: HTTPError.self) { _ = try await client.send(req) }
            #expect(error.kind == .bodyTooLarge)
            #expect(error.description.contains("HTTP 200"))
            #expect(error.description.contains("4096 bytes"))
            req.responseBodyLimit = 5000
            #expect(try await client.send(req).body.count == 5000)
            // Streams are not capped: their consumer bounds its memory itself.
            req.url = URL(string: "\(base)/stream?chunks=8&size=1024")!
            req.responseBodyLimit = 4096
            var total = 0
            for try await chunk in try await client.stream(req).body { total += chunk.count }
            #expect(total == 8192)
        }
    }
}
