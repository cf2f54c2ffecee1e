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
}
