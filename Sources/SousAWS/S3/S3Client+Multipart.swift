import Foundation
import SousBasics
public import SousCrypto
public import SousHTTP

extension S3Client {
    /// `CreateMultipartUpload`; returns the UploadId. With `checksum`, the parts must carry that checksum and
    /// the object gets a full-object one (`x-amz-checksum-algorithm`, `x-amz-checksum-type: FULL_OBJECT`).
    public func createMultipartUpload(
        bucket: String, key: String, contentType: String? = nil, metadata: [String: String] = [:], tags: [String: String]? = nil,
        checksum: ChecksumAlgorithm? = nil
    ) async throws -> String {
        var r = request("CreateMultipartUpload", "POST", bucket: bucket, key: key, query: [("uploads", "")])
        if let checksum {
            r.headers.set("x-amz-checksum-algorithm", checksum.rawValue)
            r.headers.set("x-amz-checksum-type", "FULL_OBJECT")
        }
        if let contentType { r.headers.set("Content-Type", contentType) }
        if let tags, !tags.isEmpty { r.headers.set("x-amz-tagging", Self.taggingHeader(tags)) }
        for (k, v) in metadata { r.headers.set("x-amz-meta-\(k)", v) }
        let resp = try await client.send(r)
        guard let id = XMLNode.parse(resp.body)?.find("UploadId")?.text, !id.isEmpty else {
            throw AWSError(service: "S3", operation: "CreateMultipartUpload", status: resp.status, code: "MalformedResponse", message: "No UploadId in the response")
        }
        return id
    }

    /// `UploadPart`; returns the part: its ETag (with quotes, as CompleteMultipartUpload wants it) and, with
    /// `crc32` (the part's CRC-32, big-endian), that checksum, which S3 verifies and sous checks in its answer.
    /// - Throws: `AWSError` (`ChecksumMismatch` when S3 reports another CRC-32 than the one sent).
    public func uploadPart(
        bucket: String, key: String, uploadId: String, partNumber: Int, body: HTTPRequestBody, crc32: [UInt8]? = nil,
        unsignedPayload: Bool = true
    ) async throws -> S3Part {
        var r = request(
            "UploadPart", "PUT", bucket: bucket, key: key,
            query: [("partNumber", String(partNumber)), ("uploadId", uploadId)])
        r.body = body
        r.unsignedPayload = unsignedPayload
        let checksum = crc32.map { Self.setChecksum(&r, crc32: $0) }
        let resp = try await client.send(r)
        try Self.check(checksum, reported: resp.headers[ChecksumAlgorithm.crc32.headerName], operation: "UploadPart", resp.status)
        return S3Part(number: partNumber, etag: resp.headers["ETag"] ?? "", size: body.length, checksumCRC32: checksum)
    }

    /// Sends `crc32` as the request's CRC-32 flexible checksum (S3 verifies it); returns its base64.
    static func setChecksum(_ r: inout AWSRequest, crc32: [UInt8]) -> String {
        let value = crc32.base64String
        r.headers.set("x-amz-sdk-checksum-algorithm", ChecksumAlgorithm.crc32.rawValue)
        r.headers.set(ChecksumAlgorithm.crc32.headerName, value)
        return value
    }

    /// Checks the CRC-32 S3 reports for what it stored against the one sous sent (when both are known).
    /// - Throws: `AWSError` `ChecksumMismatch`.
    static func check(_ sent: String?, reported: String?, operation: String, _ status: Int) throws {
        guard let sent, let reported, reported != sent else { return }
        throw AWSError(
            service: "S3", operation: operation, status: status, code: "ChecksumMismatch",
            message: "S3 reports CRC32 \(reported) for what it stored; sous sent \(sent). Nothing was corrupted on disk: rerun the upload")
    }

    /// `CompleteMultipartUpload` (its 200-with-Error answers are detected). Returns the final ETag. Parts that
    /// carry a CRC-32 are listed with it; with `crc32` (the whole object's CRC-32) S3 checks the object's
    /// full-object checksum, and sous checks the one S3 reports.
    /// - Throws: `AWSError` (`ChecksumMismatch` when S3 reports another full-object CRC-32).
    @discardableResult
    public func completeMultipartUpload(bucket: String, key: String, uploadId: String, parts: [S3Part], crc32: [UInt8]? = nil)
        async throws -> String
    {
        var xml = "<CompleteMultipartUpload xmlns=\"\(Self.xmlns)\">"
        for p in parts.sorted(by: { $0.number < $1.number }) {
            xml += "<Part><ETag>\(XMLText.escape(p.etag))</ETag><PartNumber>\(p.number)</PartNumber>"
            if let c = p.checksumCRC32 { xml += "<ChecksumCRC32>\(XMLText.escape(c))</ChecksumCRC32>" }
            xml += "</Part>"
        }
        xml += "</CompleteMultipartUpload>"
        var r = request("CompleteMultipartUpload", "POST", bucket: bucket, key: key, query: [("uploadId", uploadId)])
        r.body = .bytes(Data(xml.utf8))
        r.headers.set("Content-Type", "application/xml")
        r.mayEmbedError = true
        var sent: String?
        if let crc32 {
            sent = crc32.base64String
            r.headers.set(ChecksumAlgorithm.crc32.headerName, sent!)
            r.headers.set("x-amz-checksum-type", "FULL_OBJECT")
        }
        let resp = try await client.send(r)
        let root = XMLNode.parse(resp.body)
        try Self.check(sent, reported: root?.find("ChecksumCRC32")?.text, operation: "CompleteMultipartUpload", resp.status)
        return Self.unquote(root?.find("ETag")?.text ?? "")
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
                parts.append(S3Part(
                    number: n, etag: p.value("ETag") ?? "", size: p.value("Size").flatMap { UInt64($0) } ?? 0,
                    checksumCRC32: p.value("ChecksumCRC32")))
            }
            marker = root.value("IsTruncated") == "true" ? root.value("NextPartNumberMarker") : nil
        } while marker != nil
        return parts
    }

    /// `ListMultipartUploads` of keys under `prefix` (all pages): the uploads begun and neither completed nor
    /// aborted.
    public func listMultipartUploads(bucket: String, prefix: String) async throws -> [S3MultipartUpload] {
        var uploads: [S3MultipartUpload] = []
        var markers: (key: String, id: String)?
        repeat {
            var q: [(name: String, value: String)] = [("prefix", prefix), ("uploads", "")]
            if let markers { q += [("key-marker", markers.key), ("upload-id-marker", markers.id)] }
            let resp = try await client.send(request("ListMultipartUploads", "GET", bucket: bucket, query: q))
            guard let root = XMLNode.parse(resp.body) else { break }
            for u in root.all("Upload") {
                guard let key = u.value("Key"), let id = u.value("UploadId") else { continue }
                uploads.append(S3MultipartUpload(key: key, uploadId: id, initiated: u.value("Initiated") ?? ""))
            }
            let next = (root.value("NextKeyMarker") ?? "", root.value("NextUploadIdMarker") ?? "")
            markers = root.value("IsTruncated") == "true" && !next.0.isEmpty ? next : nil
        } while markers != nil
        return uploads
    }
}
