import Foundation
import HTTPTypes
import Hummingbird
import SousAWS
import SousCrypto

/// Objects: PutObject, GetObject and HeadObject (ranges, `partNumber`, checksums), DeleteObject, CopyObject and
/// GetObjectAttributes.
extension S3Service {
    /// `x-amz-meta-*` of a request.
    func metadata(_ wire: WireRequest) -> [String: String] {
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
            return Reply.empty(.ok, headers: [("ETag", "\"\(meta.etag)\"")] + (meta.checksum.map(S3Checksums.headers) ?? []))
        } catch {
            try? FileManager.default.removeItem(at: file.url)
            throw error
        }
    }

    func deleteObject(_ r: S3Request) async throws -> Response {
        try await store.deleteObject(r.bucket, key: r.key)
        return Reply.empty(.noContent)
    }

    /// GetObject and HeadObject: the whole object, a `Range`, or one part (`partNumber`); with
    /// `x-amz-checksum-mode: ENABLED`, the checksum of what is returned when S3 has one for it.
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
        var checksum = meta.checksum
        if let part = wire.queryValue("partNumber") {
            guard wire.header("range") == nil else {
                throw S3Checksums.invalidRequest("Cannot specify both Range header and partNumber query parameter")
            }
            guard let n = Int(part), (1...10_000).contains(n) else {
                throw ServiceError(.badRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
            }
            let parts = meta.parts ?? [S3ObjectPart(number: 1, size: meta.size, checksum: meta.checksum?.value)]
            guard n <= parts.count else {
                throw ServiceError(.rangeNotSatisfiable, "InvalidPartNumber", "The requested partnumber is not satisfiable")
            }
            start = parts[..<(n - 1)].reduce(0) { $0 + $1.size }
            length = parts[n - 1].size
            if meta.parts != nil {
                status = .partialContent
                headers.append(("Content-Range", "bytes \(start)-\(start + length - 1)/\(meta.size)"))
                headers.append(("x-amz-mp-parts-count", String(parts.count)))
                // A part's own checksum, except where the object's is a FULL_OBJECT one of several parts.
                checksum = meta.checksum.flatMap { c in
                    guard let v = parts[n - 1].checksum, c.type == .composite || parts.count == 1 else { return nil }
                    return StoredChecksum(algorithm: c.algorithm, value: v, type: c.type)
                }
            }
        } else if let range = wire.header("range"), let r = Self.parseRange(range, size: meta.size) {
            guard let (a, b) = r else {
                if head { return Reply.empty(.rangeNotSatisfiable) }
                throw ServiceError(
                    .rangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable",
                    s3Extra: [("RangeRequested", range), ("ActualObjectSize", String(meta.size))])
            }
            start = a
            length = b - a + 1
            status = .partialContent
            checksum = nil
            headers.append(("Content-Range", "bytes \(a)-\(b)/\(meta.size)"))
        }
        if wire.header("x-amz-checksum-mode")?.uppercased() == "ENABLED", let checksum { headers += S3Checksums.headers(checksum) }
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

    // MARK: Copies

    /// The object `x-amz-copy-source` names (`bucket/key` or `/bucket/key`, URL-encoded, `?versionId=` ignored),
    /// checked against `x-amz-copy-source-if-match` / `-if-none-match`.
    func copySource(_ wire: WireRequest) async throws -> (bucket: String, key: String, meta: S3ObjectMeta, pieces: [(url: URL, size: UInt64)]) {
        let raw = wire.header("x-amz-copy-source") ?? ""
        let path = raw.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let decoded = (path.removingPercentEncoding ?? path).drop { $0 == "/" }
        guard let slash = decoded.firstIndex(of: "/"), slash != decoded.startIndex, decoded.index(after: slash) != decoded.endIndex else {
            throw ServiceError(.badRequest, "InvalidArgument", "Invalid copy source object key: \(raw)")
        }
        let bucket = String(decoded[..<slash]), key = String(decoded[decoded.index(after: slash)...])
        let (meta, pieces) = try await store.object(bucket, key)
        if let m = wire.header("x-amz-copy-source-if-match"), m.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) != meta.etag {
            throw ServiceError(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        }
        if let m = wire.header("x-amz-copy-source-if-none-match"), m.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) == meta.etag {
            throw ServiceError(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        }
        return (bucket, key, meta, pieces)
    }

    /// CopyObject: the copy shares the source's bytes (hard links); metadata and tags are the source's unless the
    /// request says `REPLACE`; the checksum is the source's, or computed anew in `x-amz-checksum-algorithm`.
    func copyObject(_ r: S3Request) async throws -> Response {
        let source = try await copySource(r.wire)
        let replaceMetadata = r.wire.header("x-amz-metadata-directive")?.uppercased() == "REPLACE"
        let replaceTags = r.wire.header("x-amz-tagging-directive")?.uppercased() == "REPLACE"
        var algorithm: ChecksumAlgorithm?
        if let name = r.wire.header("x-amz-checksum-algorithm") {
            guard let a = ChecksumAlgorithm(awsName: name) else { throw S3Checksums.unsupported }
            algorithm = a
        }
        if source.bucket == r.bucket && source.key == r.key && !replaceMetadata && !replaceTags && algorithm == nil {
            throw S3Checksums.invalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
        }
        var checksum = source.meta.checksum
        if let algorithm, checksum?.algorithm != algorithm || checksum?.type != .fullObject {
            checksum = StoredChecksum(algorithm, digest: try await Self.checksum(algorithm, of: source.pieces, size: source.meta.size))
        }
        let wire = r.wire
        let newMetadata = metadata(wire)
        let meta = try await store.copyObject(from: (source.bucket, source.key), to: r.bucket, key: r.key) { m in
            if replaceMetadata {
                m.metadata = newMetadata
                m.contentType = wire.header("content-type")
            }
            if replaceTags { m.tags = Self.taggingHeader(wire) }
            m.checksum = checksum
        }
        return Reply.xml(
            .ok,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LastModified>\(AWSTime.iso8601(meta.lastModified))</LastModified><ETag>&quot;\(meta.etag)&quot;</ETag>\(S3Checksums.xml(meta.checksum))</CopyObjectResult>"
        )
    }

    /// The checksum of an object's bytes, read from its files.
    static func checksum(_ algorithm: ChecksumAlgorithm, of pieces: [(url: URL, size: UInt64)], size: UInt64) async throws -> [UInt8] {
        let range = try ObjectRange(pieces, offset: 0, length: size)
        defer { range.close() }
        var c = Checksum(algorithm)
        try await range.read { buffer in buffer.withUnsafeReadableBytes { c.update($0) } }
        return c.digest()
    }

    // MARK: Attributes

    /// GetObjectAttributes: the attributes `x-amz-object-attributes` asks for (ETag, Checksum, ObjectParts,
    /// StorageClass, ObjectSize); parts paged by `x-amz-max-parts` and `x-amz-part-number-marker`.
    func getObjectAttributes(_ r: S3Request) async throws -> Response {
        let (meta, _) = try await store.object(r.bucket, r.key)
        let wanted = Set((r.wire.header("x-amz-object-attributes") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let known: Set<String> = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
        guard !wanted.isEmpty, wanted.isSubset(of: known) else {
            throw ServiceError(.badRequest, "InvalidArgument", "Invalid attribute name specified.")
        }
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetObjectAttributesResponse xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        if wanted.contains("ETag") { x += "<ETag>\(meta.etag)</ETag>" }
        if wanted.contains("Checksum"), let c = meta.checksum {
            // The attribute holds a composite value without its `-<parts>` suffix.
            let value = c.type == .composite ? String(c.value.prefix { $0 != "-" }) : c.value
            x += "<Checksum>\(S3Checksums.xml(StoredChecksum(algorithm: c.algorithm, value: value, type: c.type)))</Checksum>"
        }
        if wanted.contains("ObjectParts"), let parts = meta.parts {
            let maxParts = min(max(Int(r.wire.header("x-amz-max-parts") ?? "") ?? 1000, 0), 1000)
            let marker = Int(r.wire.header("x-amz-part-number-marker") ?? "") ?? 0
            let page = parts.filter { $0.number > marker }.prefix(maxParts)
            let truncated = parts.filter { $0.number > marker }.count > page.count
            x += "<ObjectParts><PartsCount>\(parts.count)</PartsCount><PartNumberMarker>\(marker)</PartNumberMarker>"
            x += "<NextPartNumberMarker>\(page.last?.number ?? marker)</NextPartNumberMarker><MaxParts>\(maxParts)</MaxParts><IsTruncated>\(truncated)</IsTruncated>"
            for p in page {
                let sum = meta.checksum.flatMap { c in p.checksum.map { S3Checksums.element(c.algorithm, $0) } } ?? ""
                x += "<Part>\(sum)<PartNumber>\(p.number)</PartNumber><Size>\(p.size)</Size></Part>"
            }
            x += "</ObjectParts>"
        }
        if wanted.contains("StorageClass") { x += "<StorageClass>STANDARD</StorageClass>" }
        if wanted.contains("ObjectSize") { x += "<ObjectSize>\(meta.size)</ObjectSize>" }
        return Reply.xml(.ok, x + "</GetObjectAttributesResponse>", headers: [("Last-Modified", AWSTime.http(meta.lastModified))])
    }
}
