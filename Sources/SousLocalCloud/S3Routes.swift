import Foundation
import HTTPTypes
import Hummingbird

/// One S3 request as the handlers see it: the bucket and key (decoded from the path-style path), the request's
/// wire form and its checked body.
struct S3Request: Sendable {
    let bucket: String
    let key: String
    let wire: WireRequest
    let payload: RequestPayload

    init(_ context: LocalCloudContext) {
        wire = context.wire
        payload = context.payload
        let trimmed = wire.rawPath.drop { $0 == "/" }
        let rawBucket: Substring, rawKey: Substring
        if let slash = trimmed.firstIndex(of: "/") {
            rawBucket = trimmed[..<slash]
            rawKey = trimmed[trimmed.index(after: slash)...]
        } else {
            rawBucket = trimmed
            rawKey = ""
        }
        bucket = String(rawBucket).removingPercentEncoding ?? String(rawBucket)
        key = String(rawKey).removingPercentEncoding ?? String(rawKey)
    }

    /// What the path names: the service (`/`), a bucket (`/bucket`) or an object (`/bucket/key`).
    var level: S3Route.Level { bucket.isEmpty ? .service : key.isEmpty ? .bucket : .object }
}

/// One S3 operation: the method and level it answers, what else tells it apart from the other operations of that
/// method and level (a subresource in the query, a header), and its handler. ``S3Route/all`` is S3's REST API as
/// the local cloud serves it; ``S3Route/register(on:service:)`` puts it on the router.
struct S3Route: Sendable {
    enum Level: CaseIterable, Sendable {
        case service, bucket, object

        /// The router path of the level.
        var path: RouterPath {
            switch self {
            case .service: "/"
            case .bucket: "/:bucket"
            case .object: "/:bucket/**"
            }
        }
    }

    /// What selects an operation among those of its method and level; the first that matches wins.
    enum Selector: Sendable {
        /// Every one of these query parameters is present.
        case query([String])
        /// This header is present.
        case header(String)
        /// These query parameters and this header.
        case queryAndHeader([String], String)
        /// Always (the operation of the method and level when nothing more specific matched).
        case always

        func matches(_ wire: WireRequest) -> Bool {
            switch self {
            case .query(let names): names.allSatisfy(wire.hasQuery)
            case .header(let name): wire.header(name) != nil
            case .queryAndHeader(let names, let name): names.allSatisfy(wire.hasQuery) && wire.header(name) != nil
            case .always: true
            }
        }
    }

    let name: String
    let method: HTTPRequest.Method
    let level: Level
    let selector: Selector
    let handler: @Sendable (S3Service, S3Request) async throws -> Response

    init(
        _ name: String, _ method: HTTPRequest.Method, _ level: Level, _ selector: Selector = .always,
        _ handler: @escaping @Sendable (S3Service, S3Request) async throws -> Response
    ) {
        self.name = name
        self.method = method
        self.level = level
        self.selector = selector
        self.handler = handler
    }

    /// The operations, most specific first within each method and level.
    static let all: [S3Route] = [
        S3Route("ListBuckets", .get, .service) { s3, _ in try await s3.listBuckets() },

        S3Route("PutBucketTagging", .put, .bucket, .query(["tagging"])) { s3, r in try await s3.putTagging(r) },
        S3Route("CreateBucket", .put, .bucket) { s3, r in try await s3.createBucket(r) },
        S3Route("HeadBucket", .head, .bucket) { s3, r in try await s3.headBucket(r) },
        S3Route("DeleteBucketTagging", .delete, .bucket, .query(["tagging"])) { s3, r in try await s3.deleteTagging(r) },
        S3Route("DeleteBucket", .delete, .bucket) { s3, r in try await s3.deleteBucket(r) },
        S3Route("GetBucketTagging", .get, .bucket, .query(["tagging"])) { s3, r in try await s3.getTagging(r) },
        S3Route("GetBucketLocation", .get, .bucket, .query(["location"])) { s3, r in try await s3.getBucketLocation(r) },
        S3Route("ListMultipartUploads", .get, .bucket, .query(["uploads"])) { s3, r in try await s3.listUploads(r) },
        S3Route("ListObjects", .get, .bucket) { s3, r in try await s3.listObjects(r) },
        S3Route("DeleteObjects", .post, .bucket, .query(["delete"])) { s3, r in try await s3.deleteObjects(r) },

        S3Route("UploadPartCopy", .put, .object, .queryAndHeader(["uploadId", "partNumber"], "x-amz-copy-source")) { s3, r in
            try await s3.uploadPartCopy(r)
        },
        S3Route("UploadPart", .put, .object, .query(["uploadId", "partNumber"])) { s3, r in try await s3.uploadPart(r) },
        S3Route("PutObjectTagging", .put, .object, .query(["tagging"])) { s3, r in try await s3.putTagging(r) },
        S3Route("CopyObject", .put, .object, .header("x-amz-copy-source")) { s3, r in try await s3.copyObject(r) },
        S3Route("PutObject", .put, .object) { s3, r in try await s3.putObject(r) },
        S3Route("ListParts", .get, .object, .query(["uploadId"])) { s3, r in try await s3.listParts(r) },
        S3Route("GetObjectTagging", .get, .object, .query(["tagging"])) { s3, r in try await s3.getTagging(r) },
        S3Route("GetObjectAttributes", .get, .object, .query(["attributes"])) { s3, r in try await s3.getObjectAttributes(r) },
        S3Route("GetObject", .get, .object) { s3, r in try await s3.getObject(r, head: false) },
        S3Route("HeadObject", .head, .object) { s3, r in try await s3.getObject(r, head: true) },
        S3Route("AbortMultipartUpload", .delete, .object, .query(["uploadId"])) { s3, r in try await s3.abortUpload(r) },
        S3Route("DeleteObjectTagging", .delete, .object, .query(["tagging"])) { s3, r in try await s3.deleteTagging(r) },
        S3Route("DeleteObject", .delete, .object) { s3, r in try await s3.deleteObject(r) },
        S3Route("CreateMultipartUpload", .post, .object, .query(["uploads"])) { s3, r in try await s3.createUpload(r) },
        S3Route("CompleteMultipartUpload", .post, .object, .query(["uploadId"])) { s3, r in try await s3.completeUpload(r) },
    ]

    /// Query parameters the operations read besides their selectors (listing, paging, presigning, SDK markers).
    static let parameters: Set<String> = [
        "list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after", "encoding-type", "marker",
        "fetch-owner", "versionId", "x-id", "response-content-type", "response-content-disposition", "response-cache-control",
        "response-content-encoding", "response-content-language", "response-expires", "max-parts", "part-number-marker",
        "max-uploads", "key-marker", "upload-id-marker", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
        "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
    ]

    /// Every query parameter some operation understands; any other is a subresource the local cloud does not serve.
    static let understood: Set<String> = all.reduce(into: parameters) { known, route in
        switch route.selector {
        case .query(let names), .queryAndHeader(let names, _): known.formUnion(names)
        case .header, .always: break
        }
    }

    /// Adds a route for every method of every level; each picks the first of its operations whose selector matches.
    static func register(on router: Router<LocalCloudContext>, service: S3Service) {
        for level in Level.allCases {
            let methods = all.filter { $0.level == level }.reduce(into: [HTTPRequest.Method]()) { if !$0.contains($1.method) { $0.append($1.method) } }
            for method in methods {
                router.on(level.path, method: method) { _, context -> Response in
                    let request = S3Request(context)
                    if let sub = request.wire.query.first(where: { !understood.contains($0.name) }) {
                        throw ServiceError(
                            .notImplemented, "NotImplemented",
                            "The sous local cloud does not implement the S3 subresource ?\(sub.name) (\(method) \(request.wire.rawPath)).")
                    }
                    // The path decides the level (`/bucket/` is a bucket, whichever pattern the router matched).
                    guard
                        let route = all.first(where: {
                            $0.level == request.level && $0.method == method && $0.selector.matches(request.wire)
                        })
                    else { throw ServiceProtocol.s3.unknownRoute(request.wire) }
                    return try await route.handler(service, request)
                }
            }
        }
    }
}
