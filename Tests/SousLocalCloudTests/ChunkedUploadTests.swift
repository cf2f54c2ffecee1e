import Foundation
import SousAWS
import SousCrypto
import SousTestSupport
import Testing

@testable import SousLocalCloud

/// aws-chunked uploads through the server: signed (each chunk's signature chained from the request's), unsigned
/// with a trailing checksum, signed with a signed trailer; the stored object is the decoded body, with its checksum.
/// (The chunk signatures themselves are checked against AWS's published examples in AWSChunkedDecoderTests.)
@Suite("Local cloud aws-chunked uploads", .serialized)
struct ChunkedUploadTests {
    static let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7) }
    static let chunkSize = 65_536

    /// One aws-chunked PUT: the headers signed with `mode`, the body encoded in 64 KiB chunks, and the trailer.
    struct Upload {
        var mode: String
        var trailer: ChecksumAlgorithm?
        /// Changes the encoded body before it is sent (to break it on purpose).
        var tamper: (inout [UInt8]) -> Void = { _ in }
        /// Changes the trailer's value.
        var trailerValue: ((String) -> String)? = nil
        var decodedLength: Int = ChunkedUploadTests.data.count
    }

    func put(_ cloud: LocalCloudFixture, _ key: String, _ u: Upload) async throws -> RawHTTPConnection.Response {
        let port = cloud.port, creds = cloud.credentials
        let signed = u.mode.hasPrefix("STREAMING-AWS4")
        var headers = [("Content-Encoding", "aws-chunked"), ("x-amz-decoded-content-length", String(u.decodedLength))]
        if let t = u.trailer { headers.append(("x-amz-trailer", t.headerName)) }
        // The encoded body needs the seed signature, and the head needs the encoded length: sign twice, at one time.
        let now = Date()
        func head(_ length: Int) -> (Data, String) {
            let h = RawHTTPConnection.signedHead(
                "PUT", "/chunks/\(key)", port: port, accessKeyId: creds.accessKeyId, secret: creds.secretAccessKey, service: "s3",
                headers: headers + [("Content-Length", String(length))], payloadHash: u.mode, signPayloadHeader: true, date: now)
            let text = String(decoding: h, as: UTF8.self)
            let sig = text.range(of: "Signature=").map { String(text[$0.upperBound...].prefix(64)) } ?? ""
            return (h, sig)
        }
        func encode(seed: String) -> [UInt8] {
            var signing: AWSChunkedDecoder.Signing?
            if signed {
                let text = String(decoding: head(0).0, as: UTF8.self)
                let amzDate = text.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("x-amz-date:") }!.dropFirst(11)
                    .trimmingCharacters(in: .whitespaces)
                let d = String(amzDate.prefix(8))
                signing = AWSChunkedDecoder.Signing(
                    signingKey: SigV4Signer.signingKey(secret: creds.secretAccessKey, day: d, region: "us-east-1", service: "s3"),
                    amzDate: amzDate, scope: "\(d)/us-east-1/s3/aws4_request", previous: seed)
            }
            var out: [UInt8] = []
            var start = 0
            while true {
                let end = min(start + Self.chunkSize, Self.data.count)
                let chunk = Array(Self.data[start..<end])
                var line = String(chunk.count, radix: 16)
                if var s = signing {
                    let sig = s.chunkSignature(dataSHA256: Digest.sha256(chunk))
                    line += ";chunk-signature=\(sig)"
                    s.previous = sig
                    signing = s
                }
                out += Array((line + "\r\n").utf8) + chunk
                if !chunk.isEmpty { out += Array("\r\n".utf8) }
                if chunk.isEmpty { break }
                start = end
            }
            if let t = u.trailer {
                var c = Checksum(t)
                c.update(Self.data)
                let value = (u.trailerValue ?? { $0 })(c.base64())
                let trailer = "\(t.headerName):\(value)"
                out += Array((trailer + "\r\n").utf8)
                if let s = signing {
                    let sig = s.trailerSignature(trailerSHA256: Digest.sha256(Array((trailer + "\n").utf8)))
                    out += Array("x-amz-trailer-signature:\(sig)\r\n".utf8)
                }
            }
            out += Array("\r\n".utf8)
            return out
        }
        // The encoded length does not depend on the signatures' values, only on their presence.
        let length = encode(seed: String(repeating: "0", count: 64)).count
        let (h, seed) = head(length)
        var encoded = encode(seed: seed)
        u.tamper(&encoded)
        let body = encoded
        return try await offPool {
            let conn = try RawHTTPConnection(port: port)
            try conn.send(h + Data(body))
            return try conn.readResponse()
        }
    }

    func get(_ cloud: LocalCloudFixture, _ key: String) async throws -> RawHTTPConnection.Response {
        let port = cloud.port, creds = cloud.credentials
        return try await offPool {
            let conn = try RawHTTPConnection(port: port)
            try conn.send(
                RawHTTPConnection.signedHead(
                    "GET", "/chunks/\(key)", port: port, accessKeyId: creds.accessKeyId, secret: creds.secretAccessKey, service: "s3",
                    headers: [("x-amz-checksum-mode", "ENABLED")], payloadHash: SigV4Request.emptyPayloadHash, signPayloadHeader: true))
            return try conn.readResponse()
        }
    }

    @Test("Signed, unsigned with a trailing CRC32, signed with a signed CRC32C trailer: stored decoded, checksum returned")
    func uploads() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        try await Clients(cloud).s3.createBucket("chunks")
        let cases: [(String, Upload)] = [
            ("signed", Upload(mode: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", trailer: nil)),
            ("unsigned-trailer", Upload(mode: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", trailer: .crc32)),
            ("signed-trailer", Upload(mode: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", trailer: .crc32c)),
        ]
        for (key, upload) in cases {
            let put = try await put(cloud, key, upload)
            #expect(put.status == 200, "\(key): \(String(decoding: put.body, as: UTF8.self))")
            #expect(put.header("etag") == "\"\(Digest.md5(Self.data).hexString)\"", "\(key)")
            let got = try await get(cloud, key)
            #expect(got.body == Data(Self.data), "\(key)")
            if let t = upload.trailer {
                var c = Checksum(t)
                c.update(Self.data)
                #expect(got.header(t.headerName) == c.base64(), "\(key)")
                #expect(put.header(t.headerName) == got.header(t.headerName), "\(key)")
            }
        }
    }

    @Test("A changed chunk, a wrong trailer checksum, a trailer changed after signing or a wrong decoded length is refused, and nothing is stored")
    func refusals() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        try await Clients(cloud).s3.createBucket("chunks")
        var flipped = Upload(mode: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", trailer: nil)
        flipped.tamper = { $0[100_000] ^= 1 }
        var badTrailer = Upload(mode: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", trailer: .crc32)
        badTrailer.trailerValue = { _ in "AAAAAA==" }
        var wrongSignedValue = Upload(mode: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", trailer: .crc32c)
        wrongSignedValue.trailerValue = { _ in "AAAAAA==" }
        var changedAfterSigning = Upload(mode: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", trailer: .crc32c)
        changedAfterSigning.tamper = { body in
            let name = Array("x-amz-checksum-crc32c:".utf8)
            if let i = (0...(body.count - name.count)).first(where: { Array(body[$0..<$0 + name.count]) == name }) {
                body[i + name.count] = body[i + name.count] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            }
        }
        var length = Upload(mode: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", trailer: .crc32)
        length.decodedLength = Self.data.count - 1
        let cases: [(Upload, Int, String)] = [
            (flipped, 403, "SignatureDoesNotMatch"),
            (badTrailer, 400, "BadDigest"),
            (wrongSignedValue, 400, "BadDigest"),
            (changedAfterSigning, 403, "SignatureDoesNotMatch"),
            (length, 400, "IncompleteBody"),
        ]
        for (i, (upload, status, code)) in cases.enumerated() {
            let r = try await put(cloud, "bad-\(i)", upload)
            #expect(r.status == status, "case \(i): \(String(decoding: r.body, as: UTF8.self))")
            #expect(String(decoding: r.body, as: UTF8.self).contains("<Code>\(code)</Code>"), "case \(i)")
            #expect(try await get(cloud, "bad-\(i)").status == 404, "case \(i)")
        }
    }
}
