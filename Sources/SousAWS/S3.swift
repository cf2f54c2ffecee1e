public import Foundation
public import SousHTTP
import SousCrypto

/// An S3 object as listed.
public struct S3Object: Sendable, Equatable {
    public var key: String
    public var size: UInt64
    /// ETag with its quotes removed.
    public var etag: String
    public var lastModified: Date?
}

/// HeadObject / GetObject metadata.
public struct S3ObjectHead: Sendable, Equatable {
    public var size: UInt64
    /// ETag with its quotes removed (`<md5>` for single-part uploads, `<hash>-<parts>` for multipart).
    public var etag: String
    public var lastModified: Date?
    public var contentType: String?
    /// User metadata (`x-amz-meta-*`), names lower-case without the prefix.
    public var metadata: [String: String]
}

/// A part of a multipart upload.
public struct S3Part: Sendable, Equatable, Codable {
    public var number: Int
    /// ETag as S3 returned it (with quotes).
    public var etag: String
    public var size: UInt64

    public init(number: Int, etag: String, size: UInt64) {
        self.number = number
        self.etag = etag
        self.size = size
    }
}

/// Settings of uploads.
public struct S3TransferOptions: Sendable {
    /// Files at least this large use multipart upload (AWS CLI default 8 MiB).
    public var multipartThreshold: UInt64 = 8 << 20
    /// Part size (AWS CLI default 8 MiB); raised automatically so a file needs at most 10,000 parts.
    public var partSize: UInt64 = 8 << 20
    /// Ignore `partSize` and size each file's parts by `automaticPartSize(fileSize:)` (the s3.upload step's
    /// default).
    public var automaticPartSize = false
    /// S3's minimum part size (all parts but the last); only tests against emulators lower it.
    public var minimumPartSize: UInt64 = 5 << 20
    /// Parts (or small files) uploaded at once. Memory stays bounded: bodies stream from the file.
    public var concurrency: Int = 4
    /// Skip objects that already hold the same bytes (size plus the sha256 sous records for multipart uploads,
    /// or ETag == MD5 for single-part objects).
    public var skipUnchanged: Bool = true
    /// Folder for multipart state files (one small JSON per upload holding its UploadId), so an interrupted
    /// upload resumes with ListParts. nil = no resume.
    public var stateDirectory: String?
    /// Send `UNSIGNED-PAYLOAD` instead of hashing bodies, over HTTPS and to loopback addresses; plain HTTP to
    /// any other host always signs the real hash.
    public var unsignedPayload: Bool = true
    /// Content-Type for uploaded objects (nil = none; S3 stores binary/octet-stream).
    public var contentType: String?
    /// What the destination already holds (key → listed object), from one ListObjectsV2 of the prefix taken
    /// before a folder upload. With it, a key that is absent or has another size is uploaded without a
    /// HeadObject; only a same-size object whose ETag cannot be checked locally is asked about. nil = ask
    /// HeadObject for every file.
    public var existing: [String: S3Object]?
    /// Object tags sent with the upload itself (`x-amz-tagging` on PutObject and CreateMultipartUpload), so
    /// tagging costs no extra request. nil = no tags.
    public var tags: [String: String]?
    /// Called after each part or file with (bytes done, bytes total).
    public var progress: (@Sendable (UInt64, UInt64) -> Void)?

    public init() {}
}

/// The outcome of uploading one file.
public struct S3UploadResult: Sendable, Equatable {
    public var bucket: String
    public var key: String
    public var size: UInt64
    /// False when the object was already identical and was skipped.
    public var uploaded: Bool
    /// Parts (multipart only) taken over from an interrupted upload.
    public var partsReused: Int
    public var partCount: Int
    public var uri: String { "s3://\(bucket)/\(key)" }
}

/// The outcome of uploading a folder.
public struct S3FolderUploadResult: Sendable, Equatable {
    /// `s3://bucket/prefix` (no trailing slash), like `sagemaker.Session.upload_data`.
    public var uri: String
    public var files: [S3UploadResult]
    public var uploadedCount: Int { files.filter(\.uploaded).count }
    public var skippedCount: Int { files.filter { !$0.uploaded }.count }
}

/// Persisted state of a multipart upload (for resume).
public struct S3MultipartState: Codable, Sendable, Equatable {
    public var bucket: String
    public var key: String
    public var uploadId: String
    public var fileSize: UInt64
    public var partSize: UInt64
    /// File modification time (seconds since 1970) when the upload started.
    public var modified: Double

    public init(bucket: String, key: String, uploadId: String, fileSize: UInt64, partSize: UInt64, modified: Double) {
        self.bucket = bucket
        self.key = key
        self.uploadId = uploadId
        self.fileSize = fileSize
        self.partSize = partSize
        self.modified = modified
    }

    /// The state file for `bucket`/`key` inside `directory`.
    public static func path(directory: String, bucket: String, key: String) -> String {
        let name = Digest.sha256(Data("\(bucket)/\(key)".utf8)).hexString.prefix(32)
        return (directory as NSString).appendingPathComponent("s3-multipart-\(name).json")
    }

    public func save(to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try JSONEncoder().encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public static func load(from path: String) -> S3MultipartState? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(S3MultipartState.self, from: d)
    }
}

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

    /// `HeadObject`; nil when the object does not exist.
    public func headObject(bucket: String, key: String) async throws -> S3ObjectHead? {
        do {
            let resp = try await client.send(request("HeadObject", "HEAD", bucket: bucket, key: key))
            return Self.head(from: resp.headers)
        } catch let e as AWSError where e.status == 404 {
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
    public func listObjects(bucket: String, prefix: String? = nil, pageSize: Int? = nil) async throws -> [S3Object] {
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
            for k in batch { xml += "<Object><Key>\(XMLEscape.text(k))</Key></Object>" }
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

    // MARK: buckets

    /// `HeadBucket`: true when it exists and is reachable, false on 404.
    public func bucketExists(_ bucket: String) async throws -> Bool {
        do {
            _ = try await client.send(request("HeadBucket", "HEAD", bucket: bucket))
            return true
        } catch let e as AWSError where e.status == 404 {
            return false
        }
    }

    /// `CreateBucket` in the client's region (LocationConstraint outside us-east-1). Already owning it is fine.
    public func createBucket(_ bucket: String) async throws {
        var r = request("CreateBucket", "PUT", bucket: bucket)
        if client.region != "us-east-1" {
            let xml = "<CreateBucketConfiguration xmlns=\"\(Self.xmlns)\"><LocationConstraint>\(client.region)</LocationConstraint></CreateBucketConfiguration>"
            r.body = .bytes(Data(xml.utf8))
            r.headers.set("Content-Type", "application/xml")
        }
        do {
            _ = try await client.send(r)
        } catch let e as AWSError where e.code == "BucketAlreadyOwnedByYou" {
            return
        }
    }

    /// The SageMaker SDK's default bucket name.
    public static func defaultBucketName(region: String, accountId: String) -> String { "sagemaker-\(region)-\(accountId)" }

    /// `sagemaker-{region}-{account}`, created when missing (like `sagemaker.Session.default_bucket()`).
    public func ensureDefaultBucket(accountId: String) async throws -> String {
        let name = Self.defaultBucketName(region: client.region, accountId: accountId)
        if try await !bucketExists(name) { try await createBucket(name) }
        return name
    }

    // MARK: multipart

    /// `CreateMultipartUpload`; returns the UploadId.
    public func createMultipartUpload(
        bucket: String, key: String, contentType: String? = nil, metadata: [String: String] = [:], tags: [String: String]? = nil
    ) async throws -> String {
        var r = request("CreateMultipartUpload", "POST", bucket: bucket, key: key, query: [("uploads", "")])
        if let contentType { r.headers.set("Content-Type", contentType) }
        if let tags, !tags.isEmpty { r.headers.set("x-amz-tagging", Self.taggingHeader(tags)) }
        for (k, v) in metadata { r.headers.set("x-amz-meta-\(k)", v) }
        let resp = try await client.send(r)
        guard let id = XMLNode.parse(resp.body)?.find("UploadId")?.text, !id.isEmpty else {
            throw AWSError(service: "S3", operation: "CreateMultipartUpload", status: resp.status, code: "MalformedResponse", message: "No UploadId in the response")
        }
        return id
    }

    /// `UploadPart`; returns the ETag (with quotes, as CompleteMultipartUpload wants it).
    public func uploadPart(bucket: String, key: String, uploadId: String, partNumber: Int, body: HTTPRequestBody)
        async throws -> String
    {
        var r = request(
            "UploadPart", "PUT", bucket: bucket, key: key,
            query: [("partNumber", String(partNumber)), ("uploadId", uploadId)])
        r.body = body
        let resp = try await client.send(r)
        return resp.headers["ETag"] ?? ""
    }

    /// `CompleteMultipartUpload` (its 200-with-Error answers are detected). Returns the final ETag.
    @discardableResult
    public func completeMultipartUpload(bucket: String, key: String, uploadId: String, parts: [S3Part]) async throws -> String {
        var xml = "<CompleteMultipartUpload xmlns=\"\(Self.xmlns)\">"
        for p in parts.sorted(by: { $0.number < $1.number }) {
            xml += "<Part><ETag>\(XMLEscape.text(p.etag))</ETag><PartNumber>\(p.number)</PartNumber></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        var r = request("CompleteMultipartUpload", "POST", bucket: bucket, key: key, query: [("uploadId", uploadId)])
        r.body = .bytes(Data(xml.utf8))
        r.headers.set("Content-Type", "application/xml")
        r.mayEmbedError = true
        let resp = try await client.send(r)
        return Self.unquote(XMLNode.parse(resp.body)?.find("ETag")?.text ?? "")
    }

    /// `AbortMultipartUpload`.
    public func abortMultipartUpload(bucket: String, key: String, uploadId: String) async throws {
        _ = try await client.send(request("AbortMultipartUpload", "DELETE", bucket: bucket, key: key, query: [("uploadId", uploadId)]))
    }

    /// `ListParts` (all pages).
    public func listParts(bucket: String, key: String, uploadId: String) async throws -> [S3Part] {
        var parts: [S3Part] = []
        var marker: String?
        repeat {
            var q: [(name: String, value: String)] = [("uploadId", uploadId)]
            if let marker { q.append(("part-number-marker", marker)) }
            let resp = try await client.send(request("ListParts", "GET", bucket: bucket, key: key, query: q))
            guard let root = XMLNode.parse(resp.body) else { break }
            for p in root.all("Part") {
                guard let n = p.value("PartNumber").flatMap({ Int($0) }) else { continue }
                parts.append(S3Part(number: n, etag: p.value("ETag") ?? "", size: p.value("Size").flatMap { UInt64($0) } ?? 0))
            }
            marker = root.value("IsTruncated") == "true" ? root.value("NextPartNumberMarker") : nil
        } while marker != nil
        return parts
    }
}

// MARK: - High-level uploads

extension S3Client {
    /// Uploads `path` to `s3://bucket/key`: single PutObject below the threshold, else a parallel multipart
    /// upload (aborted on failure; resumable via `options.stateDirectory` after an interruption). Skips the upload
    /// when the object already holds the same bytes.
    public func uploadFile(_ givenPath: String, bucket: String, key: String, options: S3TransferOptions = .init())
        async throws -> S3UploadResult
    {
        // Follow symlinks (Hugging Face cache snapshots link into blobs/).
        let path = URL(fileURLWithPath: givenPath).resolvingSymlinksInPath().path
        guard let st = FileStat(path) else {
            throw AWSConfigError("Cannot upload \(path): the file does not exist or cannot be read.")
        }
        let size = st.size
        let modified = st.modified
        let multipart = size >= options.multipartThreshold && size > 0
        var sha: String?
        // A 403 on HEAD (no s3:ListBucket, object absent) just means "unknown": upload.
        var existing: S3ObjectHead?
        if options.skipUnchanged {
            if let listed = options.existing, listed[key]?.size != size {
                existing = nil  // absent, or another size: it cannot be unchanged
            } else if let listed = options.existing?[key], !listed.etag.contains("-") {
                existing = S3ObjectHead(size: listed.size, etag: listed.etag, metadata: [:])  // single-part: ETag is the MD5
            } else {
                do {
                    existing = try await headObject(bucket: bucket, key: key)
                } catch let e as AWSError where e.status == 403 {
                    existing = nil
                }
            }
        }
        if let head = existing, head.size == size {
            if let recorded = head.metadata["sous-sha256"] {
                let local = try await Self.fileDigestOffPool(path, 0, size, .sha256)
                sha = local
                if recorded == local {
                    options.progress?(size, size)
                    return S3UploadResult(bucket: bucket, key: key, size: size, uploaded: false, partsReused: 0, partCount: 0)
                }
            } else if !head.etag.contains("-"), try await Self.fileDigestOffPool(path, 0, size, .md5) == head.etag.lowercased() {
                options.progress?(size, size)
                return S3UploadResult(bucket: bucket, key: key, size: size, uploaded: false, partsReused: 0, partCount: 0)
            }
        }
        if !multipart {
            var r = request("PutObject", "PUT", bucket: bucket, key: key)
            r.body = size == 0 ? .bytes(Data()) : .file(path: path, offset: 0, length: size)
            r.unsignedPayload = options.unsignedPayload
            if let ct = options.contentType { r.headers.set("Content-Type", ct) }
            if let tags = options.tags, !tags.isEmpty { r.headers.set("x-amz-tagging", Self.taggingHeader(tags)) }
            _ = try await client.send(r)
            options.progress?(size, size)
            return S3UploadResult(bucket: bucket, key: key, size: size, uploaded: true, partsReused: 0, partCount: 1)
        }
        return try await multipartUpload(
            path, size: size, modified: modified, sha: sha, bucket: bucket, key: key, options: options)
    }

    /// A part size for a file of `fileSize` bytes: a sixteenth of the file (so one file still fills the
    /// connections), at least 8 MiB and at most 64 MiB, in whole MiB. Fewer, larger parts mean fewer requests
    /// for both ends to handle; it depends on the file's size alone, so an interrupted upload resumes with the
    /// same parts.
    public static func automaticPartSize(fileSize: UInt64) -> UInt64 {
        let mib: UInt64 = 1 << 20
        let sixteenth = ((fileSize + 15) / 16 + mib - 1) / mib * mib
        return min(max(sixteenth, 8 * mib), 64 * mib)
    }

    /// Part size for a file: at least `requested`, large enough for ≤ 10,000 parts (rounded up to 1 MiB).
    public static func effectivePartSize(fileSize: UInt64, requested: UInt64) -> UInt64 {
        let minimum = (fileSize + 9_999) / 10_000
        var p = max(requested, minimum, 1)
        if p != requested { p = (p + (1 << 20) - 1) / (1 << 20) * (1 << 20) }
        return p
    }

    private func multipartUpload(
        _ path: String, size: UInt64, modified: Double, sha: String?, bucket: String, key: String, options: S3TransferOptions
    ) async throws -> S3UploadResult {
        let requested = options.automaticPartSize ? Self.automaticPartSize(fileSize: size) : options.partSize
        let partSize = Self.effectivePartSize(fileSize: size, requested: max(requested, options.minimumPartSize))
        let partCount = Int((size + partSize - 1) / partSize)
        let statePath = options.stateDirectory.map { S3MultipartState.path(directory: $0, bucket: bucket, key: key) }
        var uploadId: String?
        var done: [Int: S3Part] = [:]
        if let statePath, let state = S3MultipartState.load(from: statePath) {
            if state.bucket == bucket, state.key == key, state.fileSize == size, state.partSize == partSize,
                abs(state.modified - modified) < 1e-6  // (seconds as a Double: rounding differs between sources)
            {
                do {
                    let listed = try await listParts(bucket: bucket, key: key, uploadId: state.uploadId)
                    uploadId = state.uploadId
                    for p in listed where p.number >= 1 && p.number <= partCount {
                        let off = UInt64(p.number - 1) * partSize
                        let len = min(partSize, size - off)
                        guard p.size == len, try await Self.fileDigestOffPool(path, off, len, .md5) == Self.unquote(p.etag).lowercased()
                        else { continue }
                        done[p.number] = p
                    }
                } catch let e as AWSError where e.code == "NoSuchUpload" || e.status == 404 {
                    uploadId = nil
                }
            } else {
                try? await abortMultipartUpload(bucket: bucket, key: key, uploadId: state.uploadId)
            }
        }
        let reused = done.count
        let id: String
        if let uploadId {
            id = uploadId
        } else {
            let digest: String
            if let sha { digest = sha } else { digest = try await Self.fileDigestOffPool(path, 0, size, .sha256) }
            id = try await createMultipartUpload(
                bucket: bucket, key: key, contentType: options.contentType, metadata: ["sous-sha256": digest],
                tags: options.tags)
            if let statePath {
                try S3MultipartState(bucket: bucket, key: key, uploadId: id, fileSize: size, partSize: partSize, modified: modified)
                    .save(to: statePath)
            }
        }
        let todo = (1...partCount).filter { done[$0] == nil }
        var bytesDone = done.values.reduce(UInt64(0)) { $0 + $1.size }
        options.progress?(bytesDone, size)
        do {
            try await withThrowingTaskGroup(of: S3Part.self) { group in
                var next = 0
                func launch() {
                    let n = todo[next]
                    next += 1
                    let off = UInt64(n - 1) * partSize
                    let len = min(partSize, size - off)
                    group.addTask {
                        try Task.checkCancellation()
                        var r = self.request(
                            "UploadPart", "PUT", bucket: bucket, key: key,
                            query: [("partNumber", String(n)), ("uploadId", id)])
                        r.body = .file(path: path, offset: off, length: len)
                        r.unsignedPayload = options.unsignedPayload
                        let resp = try await self.client.send(r)
                        return S3Part(number: n, etag: resp.headers["ETag"] ?? "", size: len)
                    }
                }
                while next < todo.count && next < max(1, options.concurrency) { launch() }
                while let part = try await group.next() {
                    done[part.number] = part
                    bytesDone += part.size
                    options.progress?(bytesDone, size)
                    if next < todo.count { launch() }
                }
            }
            try await completeMultipartUpload(bucket: bucket, key: key, uploadId: id, parts: Array(done.values))
        } catch {
            let cancelled = error is CancellationError || (error as? HTTPError)?.kind == .cancelled || Task.isCancelled
            if !cancelled {
                // A real failure: abort so no orphaned parts keep costing money, and forget the state.
                try? await abortMultipartUpload(bucket: bucket, key: key, uploadId: id)
                if let statePath { try? FileManager.default.removeItem(atPath: statePath) }
            }
            throw error
        }
        if let statePath { try? FileManager.default.removeItem(atPath: statePath) }
        return S3UploadResult(bucket: bucket, key: key, size: size, uploaded: true, partsReused: reused, partCount: partCount)
    }

    /// Uploads every regular file under `folder` to `s3://bucket/prefix/<relative path>`; `options.progress`
    /// reports bytes over the whole folder.
    /// Returns the prefix URI (`s3://bucket/prefix`), like `sagemaker.Session.upload_data` for a folder.
    public func uploadFolder(_ folder: String, bucket: String, prefix: String, options: S3TransferOptions = .init())
        async throws -> S3FolderUploadResult
    {
        let cleanPrefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let root = URL(fileURLWithPath: folder).standardizedFileURL
        guard let e = FileManager.default.enumerator(atPath: root.path) else {
            throw AWSConfigError("Cannot read the folder \(folder).")
        }
        var files: [(path: String, key: String)] = []
        while let rel = e.nextObject() as? String {
            let full = root.appendingPathComponent(rel).path
            var isDir: ObjCBool = false
            // fileExists follows symlinks: linked files are uploaded with their target's bytes.
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue else { continue }
            files.append((full, cleanPrefix.isEmpty ? rel : cleanPrefix + "/" + rel))
        }
        files.sort { $0.key < $1.key }
        var results: [S3UploadResult] = []
        var perFileOptions = options
        perFileOptions.progress = nil
        let perFile = perFileOptions
        // Small files in parallel; large ones one at a time (their parts are parallel).
        func size(_ p: String) -> UInt64 {
            let real = URL(fileURLWithPath: p).resolvingSymlinksInPath().path
            return FileStat(real)?.size ?? 0
        }
        let small = files.filter { size($0.path) < options.multipartThreshold }
        let totalBytes = files.reduce(UInt64(0)) { $0 + size($1.path) }
        var doneBytes: UInt64 = 0
        let smallKeys = Set(small.map(\.key))
        try await withThrowingTaskGroup(of: S3UploadResult.self) { group in
            var next = 0
            while next < small.count && next < max(1, options.concurrency) {
                let (fp, fk) = (small[next].path, small[next].key)
                next += 1
                group.addTask { try await self.uploadFile(fp, bucket: bucket, key: fk, options: perFile) }
            }
            while let r = try await group.next() {
                results.append(r)
                doneBytes += r.size
                options.progress?(doneBytes, totalBytes)
                if next < small.count {
                    let (fp, fk) = (small[next].path, small[next].key)
                    next += 1
                    group.addTask { try await self.uploadFile(fp, bucket: bucket, key: fk, options: perFile) }
                }
            }
        }
        for f in files where !smallKeys.contains(f.key) {
            // Large files report their parts' progress on top of what is already done.
            var bigOptions = perFile
            let base = doneBytes
            if let progress = options.progress {
                bigOptions.progress = { done, _ in progress(base + done, totalBytes) }
            }
            let r = try await uploadFile(f.path, bucket: bucket, key: f.key, options: bigOptions)
            results.append(r)
            doneBytes += r.size
        }
        results.sort { $0.key < $1.key }
        let uri = cleanPrefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(cleanPrefix)"
        return S3FolderUploadResult(uri: uri, files: results)
    }

    /// `sagemaker.Session.upload_data`: a file goes to `prefix/<file name>` and its object URI is returned;
    /// a folder goes under `prefix` and the prefix URI is returned.
    public func uploadData(_ path: String, bucket: String, keyPrefix: String, options: S3TransferOptions = .init())
        async throws -> String
    {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw AWSConfigError("Cannot upload \(path): it does not exist.")
        }
        if isDir.boolValue {
            return try await uploadFolder(path, bucket: bucket, prefix: keyPrefix, options: options).uri
        }
        let p = keyPrefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let name = (path as NSString).lastPathComponent
        return try await uploadFile(path, bucket: bucket, key: p.isEmpty ? name : "\(p)/\(name)", options: options).uri
    }

    /// The `x-amz-tagging` header value: `key=value` pairs, URL-encoded, joined by `&` (sorted, so the
    /// request is deterministic).
    public static func taggingHeader(_ tags: [String: String]) -> String {
        tags.sorted { $0.key < $1.key }
            .map { AWSURIEncoding.encode($0.key, keepSlash: false) + "=" + AWSURIEncoding.encode($0.value, keepSlash: false) }
            .joined(separator: "&")
    }

    enum DigestKind { case sha256, md5 }

    /// `fileDigest` on a thread of its own: hashing a large file takes a while, and doing it on the Swift
    /// concurrency pool (as wide as the core count; on Linux it shares Dispatch's global queue threads too)
    /// would hold up the transfers that share the pool meanwhile.
    static func fileDigestOffPool(_ path: String, _ offset: UInt64, _ length: UInt64, _ kind: DigestKind) async throws -> String {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<String, any Error>) in
            Thread.detachNewThread { c.resume(with: Result { try fileDigest(path, offset, length, kind) }) }
        }
    }

    /// Hex digest of a file region, read in 1 MiB chunks.
    static func fileDigest(_ path: String, _ offset: UInt64, _ length: UInt64, _ kind: DigestKind) throws -> String {
        do {
            if kind == .sha256 {
                // The whole file: usually already hashed for the step's fingerprint in this process.
                if offset == 0, let whole = try FileDigestCache.sha256(ofFile: path, ifSize: length) {
                    return whole.hexString
                }
                return try sha256OfFile(atPath: path, offset: offset, length: length).hexString
            }
            return try md5OfFile(atPath: path, offset: offset, length: length).hexString
        } catch let e as FileReadError {
            throw AWSConfigError(e.description)
        } catch {
            throw AWSConfigError("Cannot read \(path): \(error.localizedDescription).")
        }
    }
}

/// A file's size and modification time from `stat(2)` (symbolic links followed). FileManager's
/// `attributesOfItem` also looks up the owner's and group's names, reading /etc/passwd and /etc/group for
/// every file: hundreds of reads before a folder upload could start.
public struct FileStat: Sendable {
    public var size: UInt64
    /// Seconds since 1970, with the nanoseconds.
    public var modified: Double

    public init?(_ path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        size = UInt64(max(0, st.st_size))
        modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }
}

/// `s3://bucket/key` parsing.
public struct S3URI: Sendable, Equatable, CustomStringConvertible {
    public var bucket: String
    public var key: String

    public init(bucket: String, key: String) {
        self.bucket = bucket
        self.key = key
    }

    /// Parses `s3://bucket[/key]`; nil otherwise.
    public init?(_ s: String) {
        guard s.hasPrefix("s3://") else { return nil }
        let rest = s.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/") else {
            guard !rest.isEmpty else { return nil }
            bucket = String(rest)
            key = ""
            return
        }
        bucket = String(rest[..<slash])
        key = String(rest[rest.index(after: slash)...])
        if bucket.isEmpty { return nil }
    }

    public var description: String { key.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(key)" }
}
