public import Foundation
import SousBasics
public import SousHTTP
import SousCrypto

/// Amazon S3 (REST-XML): objects, multipart uploads, listing, batch delete, buckets.
///
/// Keys are URI-encoded once per path segment, so spaces, unicode and reserved characters round-trip.
/// Path-style addressing is used when an S3 endpoint override is configured (moto, local clouds) or the bucket
/// name contains dots; virtual-hosted style otherwise.
public struct S3Client: Sendable {
    public let client: AWSClient
    public var pathStyle: Bool

    public init(_ client: AWSClient, pathStyle: Bool? = nil) {
        self.client = client
        self.pathStyle = pathStyle ?? (client.configuration.endpointOverride(for: .s3) != nil)
    }

    static let xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"

    func request(_ op: String, _ method: String, bucket: String, key: String? = nil, query: [(name: String, value: String)] = [])
        -> AWSRequest
    {
        var r = AWSRequest(service: .s3, operation: op, method: method, query: query)
        let keyPath = key.map { "/" + AWSURIEncoding.encodeKey($0) } ?? ""
        if pathStyle || bucket.contains(".") {
            r.path = "/" + AWSURIEncoding.encode(bucket, keepSlash: false) + keyPath
        } else {
            r.hostOverride = "\(bucket).\(client.endpoint(for: .s3).host ?? "")"
            r.path = keyPath.isEmpty ? "/" : keyPath
        }
        r.unsignedPayload = true
        return r
    }

    static func unquote(_ etag: String) -> String {
        etag.count >= 2 && etag.hasPrefix("\"") && etag.hasSuffix("\"") ? String(etag.dropFirst().dropLast()) : etag
    }

    static func parseHTTPDate(_ s: String?) -> Date? {
        guard let s else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: s)
    }

    static func head(from headers: HTTPHeaders) -> S3ObjectHead {
        var meta: [String: String] = [:]
        for h in headers where h.name.lowercased().hasPrefix("x-amz-meta-") {
            meta[String(h.name.lowercased().dropFirst("x-amz-meta-".count))] = h.value
        }
        return S3ObjectHead(
            size: headers["Content-Length"].flatMap { UInt64($0) } ?? 0, etag: unquote(headers["ETag"] ?? ""),
            lastModified: parseHTTPDate(headers["Last-Modified"]), contentType: headers["Content-Type"], metadata: meta)
    }

    // MARK: objects

    /// `HeadObject`; nil when the object does not exist (`AWSError.isNotFound`).
    public func headObject(bucket: String, key: String) async throws -> S3ObjectHead? {
        do {
            let resp = try await client.send(request("HeadObject", "HEAD", bucket: bucket, key: key))
            return Self.head(from: resp.headers)
        } catch let e as AWSError where e.isNotFound {
            return nil
        }
    }

    /// `PutObject` from memory or a file region. Returns the ETag (without quotes).
    @discardableResult
    public func putObject(
        bucket: String, key: String, body: HTTPRequestBody, contentType: String? = nil, metadata: [String: String] = [:]
    ) async throws -> String {
        var r = request("PutObject", "PUT", bucket: bucket, key: key)
        r.body = body
        if case .bytes(let d) = body { r.headers.set("Content-MD5", Digest.md5(d).base64String) }
        if let contentType { r.headers.set("Content-Type", contentType) }
        for (k, v) in metadata { r.headers.set("x-amz-meta-\(k)", v) }
        let resp = try await client.send(r)
        return Self.unquote(resp.headers["ETag"] ?? "")
    }

    /// `GetObject` into memory; `range` is an inclusive byte range.
    public func getObject(bucket: String, key: String, range: ClosedRange<UInt64>? = nil) async throws -> Data {
        var r = request("GetObject", "GET", bucket: bucket, key: key)
        if let range { r.headers.set("Range", "bytes=\(range.lowerBound)-\(range.upperBound)") }
        return try await client.send(r).body
    }

    /// `GetObject` streamed into a file (replaced); `range` is an inclusive byte range.
    @discardableResult
    public func getObject(bucket: String, key: String, toFile path: String, range: ClosedRange<UInt64>? = nil)
        async throws -> S3ObjectHead
    {
        var r = request("GetObject", "GET", bucket: bucket, key: key)
        if let range { r.headers.set("Range", "bytes=\(range.lowerBound)-\(range.upperBound)") }
        let resp = try await client.download(r, to: path)
        return Self.head(from: resp.headers)
    }

    /// One page of `ListObjectsV2`.
    public func listObjectsPage(bucket: String, prefix: String?, continuationToken: String? = nil, maxKeys: Int? = nil)
        async throws -> (objects: [S3Object], nextToken: String?)
    {
        var q: [(name: String, value: String)] = [("list-type", "2"), ("encoding-type", "url")]
        if let prefix, !prefix.isEmpty { q.append(("prefix", prefix)) }
        if let continuationToken { q.append(("continuation-token", continuationToken)) }
        if let maxKeys { q.append(("max-keys", String(maxKeys))) }
        let resp = try await client.send(request("ListObjectsV2", "GET", bucket: bucket, query: q))
        guard let root = XMLNode.parse(resp.body) else {
            throw AWSError(service: "S3", operation: "ListObjectsV2", status: resp.status, code: "MalformedResponse", message: "The listing is not XML")
        }
        let urlEncoded = root.value("EncodingType") == "url"
        let objects = root.all("Contents").map { c -> S3Object in
            let raw = c.value("Key") ?? ""
            return S3Object(
                key: urlEncoded ? AWSURIEncoding.decode(raw, plusAsSpace: true) : raw,
                size: c.value("Size").flatMap { UInt64($0) } ?? 0, etag: Self.unquote(c.value("ETag") ?? ""),
                lastModified: c.value("LastModified").flatMap(AWSDate.parseISO8601))
        }
        let truncated = root.value("IsTruncated") == "true"
        return (objects, truncated ? root.value("NextContinuationToken") : nil)
    }

    /// `ListObjectsV2` following every continuation token.
    ///
    /// moto's signature check mis-computes listings whose prefix holds `/` (see docs/aws.md); real S3 never
    /// rejects a correctly signed request that way, so only on that answer does this list from the prefix's
    /// first path segment instead and keep the keys under `prefix`.
    public func listObjects(bucket: String, prefix: String? = nil, pageSize: Int? = nil) async throws -> [S3Object] {
        do {
            return try await listAllPages(bucket: bucket, prefix: prefix, pageSize: pageSize)
        } catch let e as AWSError where e.code == "SignatureDoesNotMatch" && prefix?.contains("/") == true {
            let prefix = prefix ?? ""
            let head = String(prefix[..<(prefix.firstIndex(of: "/") ?? prefix.endIndex)])
            return try await listAllPages(bucket: bucket, prefix: head, pageSize: pageSize).filter { $0.key.hasPrefix(prefix) }
        }
    }

    private func listAllPages(bucket: String, prefix: String?, pageSize: Int?) async throws -> [S3Object] {
        var all: [S3Object] = []
        var token: String?
        repeat {
            let page = try await listObjectsPage(bucket: bucket, prefix: prefix, continuationToken: token, maxKeys: pageSize)
            all += page.objects
            token = page.nextToken
        } while token != nil
        return all
    }

    /// A key that DeleteObjects could not delete.
    public struct DeleteFailure: Sendable, Equatable {
        public var key: String
        public var code: String
        public var message: String
    }

    /// `DeleteObjects` in batches of 1,000 (with `Content-MD5`). Returns the keys that failed.
    @discardableResult
    public func deleteObjects(bucket: String, keys: [String]) async throws -> [DeleteFailure] {
        var failures: [DeleteFailure] = []
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(start + 1000, keys.count)]
            start += batch.count
            var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"\(Self.xmlns)\">"
            for k in batch { xml += "<Object><Key>\(XMLText.escape(k))</Key></Object>" }
            xml += "<Quiet>true</Quiet></Delete>"
            let body = Data(xml.utf8)
            var r = request("DeleteObjects", "POST", bucket: bucket, query: [("delete", "")])
            r.body = .bytes(body)
            r.headers.set("Content-MD5", Digest.md5(body).base64String)
            r.headers.set("Content-Type", "application/xml")
            let resp = try await client.send(r)
            if let root = XMLNode.parse(resp.body) {
                for e in root.all("Error") {
                    failures.append(DeleteFailure(key: e.value("Key") ?? "", code: e.value("Code") ?? "", message: e.value("Message") ?? ""))
                }
            }
        }
        return failures
    }

    /// Deletes every object under `prefix`; returns how many were deleted.
    @discardableResult
    public func deletePrefix(bucket: String, prefix: String) async throws -> Int {
        let keys = try await listObjects(bucket: bucket, prefix: prefix).map(\.key)
        let failed = try await deleteObjects(bucket: bucket, keys: keys)
        if let f = failed.first {
            throw AWSError(service: "S3", operation: "DeleteObjects", status: 200, code: f.code, message: "\(failed.count) objects were not deleted, e.g. \(f.key): \(f.message)")
        }
        return keys.count
    }

    /// A presigned GET (or other `method`) URL for an object, valid `expires` seconds (≤ 7 days).
    public func presignedURL(bucket: String, key: String, method: String = "GET", expires: Int = 3600) async throws -> URL {
        try await client.presignedURL(request("PresignedURL", method, bucket: bucket, key: key), expires: expires)
    }

    /// The `x-amz-tagging` header value: `key=value` pairs, URL-encoded, joined by `&` (sorted, so the
    /// request is deterministic).
    public static func taggingHeader(_ tags: [String: String]) -> String {
        tags.sorted { $0.key < $1.key }
            .map { AWSURIEncoding.encode($0.key, keepSlash: false) + "=" + AWSURIEncoding.encode($0.value, keepSlash: false) }
            .joined(separator: "&")
    }
}
