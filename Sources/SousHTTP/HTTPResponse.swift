public import Foundation

/// Status line and headers of a response.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    /// URL after redirects.
    public var url: URL
    /// "1.0", "1.1", "2" or "3".
    public var httpVersion: String

    public init(status: Int, headers: HTTPHeaders, url: URL, httpVersion: String) {
        self.status = status
        self.headers = headers
        self.url = url
        self.httpVersion = httpVersion
    }
}

/// A response with its whole body.
public struct HTTPResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: Data
    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }

    public init(head: HTTPResponseHead, body: Data) {
        self.head = head
        self.body = body
    }
}

/// A response whose body streams.
public struct HTTPStreamingResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: HTTPBodyStream
}
