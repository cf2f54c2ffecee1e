import Foundation
import SousBasics
import HTTPTypes
import Hummingbird
import SousCrypto

/// Multipart uploads: create, upload a part (from a body or copied from an object), list parts and uploads,
/// complete (with part and object checksums), abort.
extension S3Service {
    func createUpload(_ r: S3Request) async throws -> Response {
        let bucket = r.bucket, key = r.key
        let spec = try S3Checksums.uploadSpec(r.wire)
        let id = try await store.createUpload(
            bucket, key: key, contentType: r.wire.header("content-type"), metadata: metadata(r.wire), tags: Self.taggingHeader(r.wire),
            checksum: spec)
        let headers = spec.map { [("x-amz-checksum-algorithm", $0.algorithm.rawValue), ("x-amz-checksum-type", $0.type.rawValue)] } ?? []
        return Reply.xml(
            .ok,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>\(XMLText.escape(bucket))</Bucket><Key>\(XMLText.escape(key))</Key><UploadId>\(id)</UploadId></InitiateMultipartUploadResult>",
            headers: headers)
    }

    /// The upload a part request names, and its part number.
    private func partTarget(_ r: S3Request) async throws -> (upload: S3UploadInfo, number: Int) {
        let u = try await store.upload(r.bucket, key: r.key, id: r.wire.queryValue("uploadId") ?? "")
        guard let n = r.wire.queryValue("partNumber").flatMap({ Int($0) }), (1...10_000).contains(n) else {
            throw ServiceError(.badRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        }
        return (u, n)
    }

    /// UploadPart. A part of an upload created with a checksum algorithm carries a checksum of that algorithm (S3
    /// requires it for COMPOSITE uploads; for FULL_OBJECT ones the local cloud computes it when absent).
    func uploadPart(_ r: S3Request) async throws -> Response {
        let (u, n) = try await partTarget(r)
        let declared = r.payload.checksum?.algorithm
        if let want = u.checksumAlgorithm, declared != want && (declared != nil || u.checksumType == .composite) {
            throw S3Checksums.invalidRequest(
                "Checksum Type mismatch occurred, expected checksum Type: \(want.rawValue.lowercased()), actual checksum Type: \(declared?.rawValue.lowercased() ?? "null")")
        }
        let file = try await r.payload.receive(to: store.temporaryFile(), checksum: u.checksumAlgorithm)
        do {
            let p = try await store.putPart(r.bucket, key: r.key, id: u.uploadId, number: n, file: file)
            let sum = p.checksum.map { [($0.algorithm.headerName, $0.value)] } ?? []
            return Reply.empty(.ok, headers: [("ETag", "\"\(p.etag)\"")] + sum)
        } catch {
            try? FileManager.default.removeItem(at: file.url)
            throw error
        }
    }

    /// UploadPartCopy: the part is a copy of an object, or of the `x-amz-copy-source-range` of it.
    func uploadPartCopy(_ r: S3Request) async throws -> Response {
        let (u, n) = try await partTarget(r)
        let source = try await copySource(r.wire)
        var start: UInt64 = 0, length = source.meta.size
        if let range = r.wire.header("x-amz-copy-source-range") {
            let bounds = range.hasPrefix("bytes=") ? range.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false) : []
            guard bounds.count == 2, let a = UInt64(bounds[0]), let b = UInt64(bounds[1]), a <= b, b < source.meta.size else {
                throw ServiceError(
                    .badRequest, "InvalidArgument", "Range specified is not valid for source object of size: \(source.meta.size)",
                    s3Extra: [("ArgumentName", "x-amz-copy-source-range"), ("ArgumentValue", range)])
            }
            start = a
            length = b - a + 1
        }
        let file = try await BodyIO.copy(
            ObjectRange(source.pieces, offset: start, length: length), to: store.temporaryFile(), checksum: u.checksumAlgorithm)
        do {
            let p = try await store.putPart(r.bucket, key: r.key, id: u.uploadId, number: n, file: file)
            let sum = p.checksum.map { S3Checksums.element($0.algorithm, $0.value) } ?? ""
            return Reply.xml(
                .ok,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyPartResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LastModified>\(AWSTime.iso8601(p.lastModified))</LastModified><ETag>&quot;\(p.etag)&quot;</ETag>\(sum)</CopyPartResult>"
            )
        } catch {
            try? FileManager.default.removeItem(at: file.url)
            throw error
        }
    }

    func listParts(_ r: S3Request) async throws -> Response {
        let bucket = r.bucket, id = r.wire.queryValue("uploadId") ?? ""
        let (u, all) = try await store.listParts(bucket, key: r.key, id: id)
        let maxParts = min(max(Int(r.wire.queryValue("max-parts") ?? "") ?? 1000, 0), 1000)
        let marker = Int(r.wire.queryValue("part-number-marker") ?? "") ?? 0
        let after = all.filter { $0.number > marker }
        let parts = after.prefix(maxParts)
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>\(XMLText.escape(bucket))</Bucket><Key>\(XMLText.escape(u.key))</Key><UploadId>\(id)</UploadId><StorageClass>STANDARD</StorageClass><PartNumberMarker>\(marker)</PartNumberMarker><NextPartNumberMarker>\(parts.last?.number ?? marker)</NextPartNumberMarker><MaxParts>\(maxParts)</MaxParts><IsTruncated>\(after.count > parts.count)</IsTruncated>"
        if let a = u.checksumAlgorithm { x += "<ChecksumAlgorithm>\(a.rawValue)</ChecksumAlgorithm><ChecksumType>\(u.checksumType?.rawValue ?? "")</ChecksumType>" }
        for p in parts {
            let sum = p.checksum.map { S3Checksums.element($0.algorithm, $0.value) } ?? ""
            x += "<Part><PartNumber>\(p.number)</PartNumber><LastModified>\(AWSTime.iso8601(p.lastModified))</LastModified><ETag>&quot;\(p.etag)&quot;</ETag><Size>\(p.size)</Size>\(sum)</Part>"
        }
        x += "</ListPartsResult>"
        return Reply.xml(.ok, x)
    }

    func abortUpload(_ r: S3Request) async throws -> Response {
        try await store.abortUpload(r.bucket, key: r.key, id: r.wire.queryValue("uploadId") ?? "")
        return Reply.empty(.noContent)
    }

    /// ListMultipartUploads: `prefix`, `delimiter` (common prefixes), `key-marker` / `upload-id-marker`,
    /// `max-uploads`, `encoding-type=url`.
    func listUploads(_ r: S3Request) async throws -> Response {
        let wire = r.wire
        let prefix = wire.queryValue("prefix") ?? ""
        let delimiter = wire.queryValue("delimiter").flatMap { $0.isEmpty ? nil : $0 }
        let keyMarker = wire.queryValue("key-marker") ?? ""
        let idMarker = wire.queryValue("upload-id-marker") ?? ""
        let maxUploads = min(max(Int(wire.queryValue("max-uploads") ?? "") ?? 1000, 0), 1000)
        let urlEncode = wire.queryValue("encoding-type") == "url"
        func enc(_ s: String) -> String { XMLText.escape(urlEncode ? (s.addingPercentEncoding(withAllowedCharacters: Self.urlSafe) ?? s) : s) }
        var uploads: [S3UploadInfo] = []
        var prefixes: [String] = []
        var truncated = false
        for u in try await store.listUploads(r.bucket) where u.key.hasPrefix(prefix) {
            // After the markers: keys past key-marker, or (with upload-id-marker) its later uploads.
            guard keyMarker.isEmpty || u.key > keyMarker || (u.key == keyMarker && !idMarker.isEmpty && u.uploadId > idMarker) else { continue }
            var common: String?
            if let delimiter, let d = u.key.dropFirst(prefix.count).range(of: delimiter) {
                common = String(u.key[..<d.upperBound])
                if prefixes.last == common { continue }
            }
            if uploads.count + prefixes.count >= maxUploads {
                truncated = true
                break
            }
            if let common { prefixes.append(common) } else { uploads.append(u) }
        }
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>\(XMLText.escape(r.bucket))</Bucket><KeyMarker>\(enc(keyMarker))</KeyMarker><UploadIdMarker>\(XMLText.escape(idMarker))</UploadIdMarker>"
        if truncated, let last = uploads.last {
            x += "<NextKeyMarker>\(enc(last.key))</NextKeyMarker><NextUploadIdMarker>\(last.uploadId)</NextUploadIdMarker>"
        }
        x += "<Prefix>\(enc(prefix))</Prefix>"
        if let delimiter { x += "<Delimiter>\(enc(delimiter))</Delimiter>" }
        if urlEncode { x += "<EncodingType>url</EncodingType>" }
        x += "<MaxUploads>\(maxUploads)</MaxUploads><IsTruncated>\(truncated)</IsTruncated>"
        for u in uploads {
            let sum = u.checksumAlgorithm.map { "<ChecksumAlgorithm>\($0.rawValue)</ChecksumAlgorithm>" } ?? ""
            x += "<Upload><Key>\(enc(u.key))</Key><UploadId>\(u.uploadId)</UploadId><Initiator><ID>sous-local</ID><DisplayName>sous-local</DisplayName></Initiator><Owner><ID>sous-local</ID><DisplayName>sous-local</DisplayName></Owner><StorageClass>STANDARD</StorageClass><Initiated>\(AWSTime.iso8601(u.created))</Initiated>\(sum)</Upload>"
        }
        for p in prefixes { x += "<CommonPrefixes><Prefix>\(enc(p))</Prefix></CommonPrefixes>" }
        x += "</ListMultipartUploadsResult>"
        return Reply.xml(.ok, x)
    }

    /// CompleteMultipartUpload: the parts listed (with their checksums, which must match the uploaded parts'), and a
    /// whole-object checksum in `x-amz-checksum-*` when the client declares one.
    func completeUpload(_ r: S3Request) async throws -> Response {
        let bucket = r.bucket, key = r.key, id = r.wire.queryValue("uploadId") ?? ""
        let u = try await store.upload(bucket, key: key, id: id)
        let declared = try S3Checksums.expectation(r.wire).flatMap { e in
            e.value.map { v in StoredChecksum(algorithm: e.algorithm, value: v, type: r.wire.header("x-amz-checksum-type").flatMap { ChecksumType(rawValue: $0.uppercased()) } ?? .fullObject) }
        }
        let xml = String(decoding: try await r.payload.collect(limit: 4 << 20, checksummed: false), as: UTF8.self)
        var requested: [S3Store.RequestedPart] = []
        for p in XMLText.elements("Part", in: xml) {
            guard let n = XMLText.elements("PartNumber", in: p).first.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }),
                let e = XMLText.elements("ETag", in: p).first
            else {
                throw ServiceError(.badRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
            }
            let sum = u.checksumAlgorithm.flatMap { XMLText.elements("Checksum\($0.rawValue)", in: p).first }
            if let a = u.checksumAlgorithm, u.checksumType == .composite, sum == nil {
                throw S3Checksums.invalidRequest(
                    "The upload was created using a \(a.rawValue.lowercased()) checksum. The complete request must include the checksum for each part. It was missing for part \(n) in the request.")
            }
            requested.append(S3Store.RequestedPart(number: n, etag: XMLText.unescape(e), checksum: sum.map(XMLText.unescape)))
        }
        let meta = try await store.completeUpload(bucket, key: key, id: id, requested: requested, declared: declared)
        return Reply.xml(
            .ok,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>/\(XMLText.escape(bucket))/\(XMLText.escape(key))</Location><Bucket>\(XMLText.escape(bucket))</Bucket><Key>\(XMLText.escape(key))</Key><ETag>&quot;\(meta.etag)&quot;</ETag>\(S3Checksums.xml(meta.checksum))</CompleteMultipartUploadResult>"
        )
    }
}
