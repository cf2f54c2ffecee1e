import Foundation
import SousBasics
import HTTPTypes
import Hummingbird
import NIOCore
import SousAWS
import SousCrypto

/// S3's REST API, path-style: `/`, `/bucket`, `/bucket/key…`: the handlers of the operations ``S3Route/all`` lists.
struct S3Service: Sendable {
    let store: S3Store
    let region: String

    // MARK: Buckets

    func listBuckets() async throws -> Response {
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>sous-local</ID><DisplayName>sous-local</DisplayName></Owner><Buckets>"
        for b in await store.bucketNames() {
            x += "<Bucket><Name>\(XMLText.escape(b.name))</Name><CreationDate>\(AWSTime.iso8601(b.created))</CreationDate></Bucket>"
        }
        x += "</Buckets></ListAllMyBucketsResult>"
        return Reply.xml(.ok, x)
    }

    func createBucket(_ r: S3Request) async throws -> Response {
        try await store.createBucket(r.bucket)
        return Reply.empty(.ok, headers: [("Location", "/\(r.bucket)")])
    }

    func headBucket(_ r: S3Request) async throws -> Response {
        try await store.requireBucket(r.bucket)
        return Reply.empty(.ok, headers: [("x-amz-bucket-region", region)])
    }

    func deleteBucket(_ r: S3Request) async throws -> Response {
        try await store.deleteBucket(r.bucket)
        return Reply.empty(.noContent)
    }

    func getBucketLocation(_ r: S3Request) async throws -> Response {
        try await store.requireBucket(r.bucket)
        let loc = region == "us-east-1" ? "" : XMLText.escape(region)
        return Reply.xml(.ok, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\(loc)</LocationConstraint>")
    }

    // MARK: Tagging

    /// The object's key for object tagging, nil for bucket tagging.
    private func taggedKey(_ r: S3Request) -> String? { r.key.isEmpty ? nil : r.key }

    func putTagging(_ r: S3Request) async throws -> Response {
        let xml = String(decoding: try await r.payload.collect(limit: 1 << 20), as: UTF8.self)
        var tags: [String: String] = [:]
        for t in XMLText.elements("Tag", in: xml) {
            guard let k = XMLText.elements("Key", in: t).first else { continue }
            tags[XMLText.unescape(k)] = XMLText.unescape(XMLText.elements("Value", in: t).first ?? "")
        }
        if let key = taggedKey(r) { try await store.setObjectTags(r.bucket, key, tags) } else { try await store.setBucketTags(r.bucket, tags) }
        return Reply.empty(taggedKey(r) == nil ? .noContent : .ok)
    }

    func getTagging(_ r: S3Request) async throws -> Response {
        let tags: [String: String]
        if let key = taggedKey(r) { tags = try await store.objectTags(r.bucket, key) } else { tags = try await store.bucketTags(r.bucket) }
        if taggedKey(r) == nil && tags.isEmpty {
            throw ServiceError(.notFound, "NoSuchTagSet", "The TagSet does not exist", s3Extra: [("BucketName", r.bucket)])
        }
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>"
        for (k, v) in tags.sorted(by: { $0.key < $1.key }) {
            x += "<Tag><Key>\(XMLText.escape(k))</Key><Value>\(XMLText.escape(v))</Value></Tag>"
        }
        return Reply.xml(.ok, x + "</TagSet></Tagging>")
    }

    func deleteTagging(_ r: S3Request) async throws -> Response {
        if let key = taggedKey(r) { try await store.setObjectTags(r.bucket, key, [:]) } else { try await store.setBucketTags(r.bucket, [:]) }
        return Reply.empty(.noContent)
    }

    // MARK: Listing

    func listObjects(_ r: S3Request) async throws -> Response {
        let bucket = r.bucket, wire = r.wire
        let all = try await store.list(bucket)
        let v2 = wire.queryValue("list-type") == "2"
        let prefix = wire.queryValue("prefix") ?? ""
        let delimiter = wire.queryValue("delimiter").flatMap { $0.isEmpty ? nil : $0 }
        let maxKeys = min(max(Int(wire.queryValue("max-keys") ?? "") ?? 1000, 0), 1000)
        let urlEncode = wire.queryValue("encoding-type") == "url"
        func enc(_ s: String) -> String {
            XMLText.escape(urlEncode ? (s.addingPercentEncoding(withAllowedCharacters: Self.urlSafe) ?? s) : s)
        }
        let token = wire.queryValue("continuation-token")
        var after: String = v2 ? (wire.queryValue("start-after") ?? "") : (wire.queryValue("marker") ?? "")
        if v2, let token {
            guard let d = Data(base64Encoded: token), let s = String(data: d, encoding: .utf8) else {
                throw ServiceError(.badRequest, "InvalidArgument", "The continuation token provided is incorrect")
            }
            after = s
        }
        var contents: [S3ObjectMeta] = []
        var prefixes: [String] = []
        var truncated = false
        var lastReturned: String?
        for o in all where o.key.hasPrefix(prefix) && o.key.utf8.lexicographicallyPrecedes(after.utf8) == false && o.key != after {
            var entry: String? = nil
            if let delimiter, let r = o.key.dropFirst(prefix.count).range(of: delimiter) {
                let cp = String(o.key[..<r.upperBound])
                if prefixes.last == cp { continue }
                if after.hasPrefix(cp) { continue }
                entry = cp
            }
            if contents.count + prefixes.count >= maxKeys {
                truncated = true
                break
            }
            if let entry {
                prefixes.append(entry)
                lastReturned = entry + "\u{10FFFF}"
            } else {
                contents.append(o)
                lastReturned = o.key
            }
        }
        let name = v2 ? "ListBucketResult" : "ListBucketResult"
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(name) xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>\(XMLText.escape(bucket))</Name><Prefix>\(enc(prefix))</Prefix>"
        if let delimiter { x += "<Delimiter>\(enc(delimiter))</Delimiter>" }
        x += "<MaxKeys>\(maxKeys)</MaxKeys>"
        if urlEncode { x += "<EncodingType>url</EncodingType>" }
        x += "<IsTruncated>\(truncated)</IsTruncated>"
        if v2 {
            x += "<KeyCount>\(contents.count + prefixes.count)</KeyCount>"
            if let token { x += "<ContinuationToken>\(XMLText.escape(token))</ContinuationToken>" }
            if let sa = wire.queryValue("start-after") { x += "<StartAfter>\(enc(sa))</StartAfter>" }
            if truncated, let last = lastReturned {
                x += "<NextContinuationToken>\(Data(last.utf8).base64EncodedString())</NextContinuationToken>"
            }
        } else {
            x += "<Marker>\(enc(wire.queryValue("marker") ?? ""))</Marker>"
            if truncated, let last = lastReturned, delimiter != nil {
                x += "<NextMarker>\(enc(last.replacingOccurrences(of: "\u{10FFFF}", with: "")))</NextMarker>"
            }
        }
        for o in contents {
            x += "<Contents><Key>\(enc(o.key))</Key><LastModified>\(AWSTime.iso8601(o.lastModified))</LastModified><ETag>&quot;\(o.etag)&quot;</ETag><Size>\(o.size)</Size><StorageClass>STANDARD</StorageClass></Contents>"
        }
        for p in prefixes { x += "<CommonPrefixes><Prefix>\(enc(p))</Prefix></CommonPrefixes>" }
        x += "</\(name)>"
        return Reply.xml(.ok, x)
    }

    static let urlSafe: CharacterSet = {
        var s = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        s.insert(charactersIn: "-_.~/")
        return s
    }()

    func deleteObjects(_ r: S3Request) async throws -> Response {
        let bucket = r.bucket
        try await store.requireBucket(bucket)
        let xml = String(decoding: try await r.payload.collect(limit: 2 << 20), as: UTF8.self)
        let quiet = XMLText.elements("Quiet", in: xml).first?.lowercased() == "true"
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for obj in XMLText.elements("Object", in: xml) {
            guard let k = XMLText.elements("Key", in: obj).first.map(XMLText.unescape) else { continue }
            try await store.deleteObject(bucket, key: k)
            if !quiet { x += "<Deleted><Key>\(XMLText.escape(k))</Key></Deleted>" }
        }
        x += "</DeleteResult>"
        return Reply.xml(.ok, x)
    }

    // MARK: Objects

    private func metadata(_ wire: WireRequest) -> [String: String] {
        var m: [String: String] = [:]
        for h in wire.headers where h.name.lowercased().hasPrefix("x-amz-meta-") {
            m[String(h.name.lowercased().dropFirst("x-amz-meta-".count))] = h.value
        }
        return m
    }

    /// Tags given with an upload (`x-amz-tagging: k=v&k2=v2`).
    static func taggingHeader(_ wire: WireRequest) -> [String: String]? {
        wire.header("x-amz-tagging").map { Dictionary(AWSURIEncoding.parseQuery($0).map { ($0.name, $0.value) }) { _, b in b } }
    }

    func putObject(_ r: S3Request) async throws -> Response {
        try await store.requireBucket(r.bucket)
        let file = try await r.payload.receive(to: store.temporaryFile())
        do {
            let meta = try await store.putObject(
                r.bucket, key: r.key, file: file, contentType: r.wire.header("content-type"), metadata: metadata(r.wire),
                tags: Self.taggingHeader(r.wire))
            return Reply.empty(.ok, headers: [("ETag", "\"\(meta.etag)\"")])
        } catch {
            try? FileManager.default.removeItem(at: file.url)
            throw error
        }
    }

    func deleteObject(_ r: S3Request) async throws -> Response {
        try await store.deleteObject(r.bucket, key: r.key)
        return Reply.empty(.noContent)
    }

    func getObject(_ r: S3Request, head: Bool) async throws -> Response {
        let wire = r.wire
        let (meta, pieces) = try await store.object(r.bucket, r.key)
        var headers: [(String, String)] = [
            ("ETag", "\"\(meta.etag)\""), ("Last-Modified", AWSTime.http(meta.lastModified)), ("Accept-Ranges", "bytes"),
            ("Content-Type", meta.contentType ?? "binary/octet-stream"),
        ]
        for (k, v) in meta.metadata.sorted(by: { $0.key < $1.key }) { headers.append(("x-amz-meta-\(k)", v)) }
        if let inm = wire.header("if-none-match"), inm.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) == meta.etag {
            return Reply.empty(.notModified, headers: headers)
        }
        var start: UInt64 = 0
        var length = meta.size
        var status = HTTPResponse.Status.ok
        if let range = wire.header("range"), let r = Self.parseRange(range, size: meta.size) {
            guard let (a, b) = r else {
                if head { return Reply.empty(.rangeNotSatisfiable) }
                throw ServiceError(
                    .rangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable",
                    s3Extra: [("RangeRequested", range), ("ActualObjectSize", String(meta.size))])
            }
            start = a
            length = b - a + 1
            status = .partialContent
            headers.append(("Content-Range", "bytes \(a)-\(b)/\(meta.size)"))
        }
        var fields = HTTPFields()
        for (n, v) in headers { if let name = HTTPField.Name(n) { fields[name] = v } }
        fields[HTTPField.Name("x-amzn-RequestId")!] = Reply.requestId()
        if head {
            fields[.contentLength] = String(length)
            return Response(status: status, headers: fields, body: ResponseBody())
        }
        return Response(status: status, headers: fields, body: try BodyIO.fileBody(pieces, offset: start, length: length))
    }

    /// nil: no usable Range header (serve everything); .some(nil): unsatisfiable.
    static func parseRange(_ header: String, size: UInt64) -> (UInt64, UInt64)?? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let spec = header.dropFirst(6)
        guard let dash = spec.firstIndex(of: "-") else { return nil }
        let a = spec[..<dash], b = spec[spec.index(after: dash)...]
        if a.isEmpty {
            guard let n = UInt64(b) else { return nil }
            if n == 0 || size == 0 { return .some(nil) }
            return .some((size - min(n, size), size - 1))
        }
        guard let s = UInt64(a) else { return nil }
        if s >= size { return .some(nil) }
        if b.isEmpty { return .some((s, size - 1)) }
        guard let e = UInt64(b), e >= s else { return nil }
        return .some((s, min(e, size - 1)))
    }

    // MARK: Multipart

    func createUpload(_ r: S3Request) async throws -> Response {
        let bucket = r.bucket, key = r.key
        let id = try await store.createUpload(
            bucket, key: key, contentType: r.wire.header("content-type"), metadata: metadata(r.wire), tags: Self.taggingHeader(r.wire))
        return Reply.xml(
            .ok,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>\(XMLText.escape(bucket))</Bucket><Key>\(XMLText.escape(key))</Key><UploadId>\(id)</UploadId></InitiateMultipartUploadResult>"
        )
    }

    func uploadPart(_ r: S3Request) async throws -> Response {
        let id = r.wire.queryValue("uploadId") ?? ""
        _ = try await store.upload(r.bucket, key: r.key, id: id)
        guard let n = r.wire.queryValue("partNumber").flatMap({ Int($0) }) else {
            throw ServiceError(.badRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        }
        let file = try await r.payload.receive(to: store.temporaryFile())
        do {
            let p = try await store.putPart(r.bucket, key: r.key, id: id, number: n, file: file)
            return Reply.empty(.ok, headers: [("ETag", "\"\(p.etag)\"")])
        } catch {
            try? FileManager.default.removeItem(at: file.url)
            throw error
        }
    }

    func listParts(_ r: S3Request) async throws -> Response {
        let bucket = r.bucket, id = r.wire.queryValue("uploadId") ?? ""
        let (u, parts) = try await store.listParts(bucket, key: r.key, id: id)
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>\(XMLText.escape(bucket))</Bucket><Key>\(XMLText.escape(u.key))</Key><UploadId>\(id)</UploadId><StorageClass>STANDARD</StorageClass><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>\(parts.last?.number ?? 0)</NextPartNumberMarker><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>"
        for p in parts {
            x += "<Part><PartNumber>\(p.number)</PartNumber><LastModified>\(AWSTime.iso8601(p.lastModified))</LastModified><ETag>&quot;\(p.etag)&quot;</ETag><Size>\(p.size)</Size></Part>"
        }
        x += "</ListPartsResult>"
        return Reply.xml(.ok, x)
    }

    func abortUpload(_ r: S3Request) async throws -> Response {
        try await store.abortUpload(r.bucket, key: r.key, id: r.wire.queryValue("uploadId") ?? "")
        return Reply.empty(.noContent)
    }

    func listUploads(_ r: S3Request) async throws -> Response {
        let bucket = r.bucket
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>\(XMLText.escape(bucket))</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>"
        for u in try await store.listUploads(bucket) {
            x += "<Upload><Key>\(XMLText.escape(u.key))</Key><UploadId>\(u.uploadId)</UploadId><Initiated>\(AWSTime.iso8601(u.created))</Initiated><StorageClass>STANDARD</StorageClass></Upload>"
        }
        x += "</ListMultipartUploadsResult>"
        return Reply.xml(.ok, x)
    }

    func completeUpload(_ r: S3Request) async throws -> Response {
        let bucket = r.bucket, key = r.key, id = r.wire.queryValue("uploadId") ?? ""
        let xml = String(decoding: try await r.payload.collect(limit: 4 << 20), as: UTF8.self)
        var requested: [(number: Int, etag: String)] = []
        for p in XMLText.elements("Part", in: xml) {
            guard let n = XMLText.elements("PartNumber", in: p).first.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }),
                let e = XMLText.elements("ETag", in: p).first
            else {
                throw ServiceError(.badRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
            }
            requested.append((n, XMLText.unescape(e)))
        }
        let etag = try await store.completeUpload(bucket, key: key, id: id, requested: requested).etag
        return Reply.xml(
            .ok,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>/\(XMLText.escape(bucket))/\(XMLText.escape(key))</Location><Bucket>\(XMLText.escape(bucket))</Bucket><Key>\(XMLText.escape(key))</Key><ETag>&quot;\(etag)&quot;</ETag></CompleteMultipartUploadResult>"
        )
    }
}
