import Foundation
import SousBasics
public import SousHTTP

extension S3Client {
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
            xml += "<Part><ETag>\(XMLText.escape(p.etag))</ETag><PartNumber>\(p.number)</PartNumber></Part>"
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
