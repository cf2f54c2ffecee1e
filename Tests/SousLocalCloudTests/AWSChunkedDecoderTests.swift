import Foundation
import Testing

import SousAWS
@testable import SousLocalCloud

/// The aws-chunked decoder against AWS's published examples (sigv4-streaming.html and sigv4-streaming-trailers.html:
/// the secret `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`, 2013-05-24, us-east-1, s3, 65 KiB and 1 KiB of `a`),
/// fed whole, at every two-piece split and byte by byte.
@Suite("aws-chunked decoder")
struct AWSChunkedDecoderTests {
    static let key = SigV4Signer.signingKey(
        secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", day: "20130524", region: "us-east-1", service: "s3")
    static let data = [UInt8](repeating: UInt8(ascii: "a"), count: 65536 + 1024)

    static func signing(seed: String) -> AWSChunkedDecoder.Signing {
        AWSChunkedDecoder.Signing(
            signingKey: key, amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", previous: seed)
    }

    /// A small body for the every-split tests: 300 bytes in chunks of 128, 128 and 44; its signatures (seed
    /// `c0ffee0…`) and CRC32 were computed with Python's hmac, hashlib and zlib.
    static let small = (0..<300).map { UInt8(($0 * 7 + 3) % 251) }
    static let smallSizes = [128, 128, 44, 0]
    static let smallSeed = "c0ffee" + String(repeating: "0", count: 58)
    static let smallSigned = encode(
        small, smallSizes,
        signatures: [
            "db2e2cb199d3cd3bebde50e00dfaae22346c0b925bb53c30c63e2ea25d620fb3",
            "e5002cf39ae8cca2e8be4b46d7322f6951f01466876c6fdad20fd011d0a5de71",
            "41ab9b8d11e85b62732d2b431a87ab60740fce72b729640133d0b9a9aba9a529",
            "f3a99e8417ec419968814b331af366fae4de163ff52bc894289d28f0a1c1a40f",
        ],
        trailer: [
            "x-amz-checksum-crc32:IlLscg==",
            "x-amz-trailer-signature:2d998131e31f433da40790f3687903257bc47cf5bdc5e769481cb6b69d1a24b9",
        ])
    static let smallUnsigned = encode(small, smallSizes, signatures: nil, trailer: ["x-amz-checksum-crc32:IlLscg=="])

    /// The encoded body: `data` in chunks of `sizes` (the last 0), the trailer lines and the closing CRLF.
    static func encode(_ data: [UInt8] = data, _ sizes: [Int] = [65536, 1024, 0], signatures: [String]?, trailer: [String]) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        for (i, size) in sizes.enumerated() {
            var header = String(size, radix: 16)
            if let signatures { header += ";chunk-signature=\(signatures[i])" }
            out += Array((header + "\r\n").utf8)
            out += data[start..<start + size]
            start += size
            if size > 0 { out += Array("\r\n".utf8) }
        }
        for line in trailer { out += Array((line + "\r\n").utf8) }
        out += Array("\r\n".utf8)
        return out
    }

    static let signedBody = encode(
        signatures: [
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
        ], trailer: [])
    static let signedSeed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

    static let trailerBody = encode(
        signatures: [
            "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
            "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
            "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
        ],
        trailer: [
            "x-amz-checksum-crc32c:sOO8/Q==",
            "x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435",
        ])
    static let trailerSeed = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"

    static let unsignedTrailerBody = encode(signatures: nil, trailer: ["x-amz-checksum-crc32c:sOO8/Q=="])

    /// Decodes `body` cut into `pieces`; returns the data and the trailers.
    static func decode(_ body: [UInt8], pieces cuts: [Int], signing: AWSChunkedDecoder.Signing?) throws -> ([UInt8], [String]) {
        var decoder = AWSChunkedDecoder(signing: signing)
        var out: [UInt8] = []
        var start = 0
        for end in cuts + [body.count] {
            try body[start..<end].withUnsafeBytes { raw in try decoder.decode(raw) { out += $0 } }
            start = end
        }
        let trailers = try decoder.finish()
        #expect(decoder.decodedLength == UInt64(out.count))
        return (out, trailers.map { "\($0.name):\($0.value)" })
    }

    @Test("AWS's STREAMING-AWS4-HMAC-SHA256-PAYLOAD example decodes with every chunk signature checked")
    func signedPayload() throws {
        let (got, trailers) = try Self.decode(Self.signedBody, pieces: [], signing: Self.signing(seed: Self.signedSeed))
        #expect(got == Self.data)
        #expect(trailers.isEmpty)
    }

    @Test("AWS's STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER example decodes with its signed crc32c trailer")
    func signedTrailer() throws {
        let (got, trailers) = try Self.decode(Self.trailerBody, pieces: [], signing: Self.signing(seed: Self.trailerSeed))
        #expect(got == Self.data)
        #expect(trailers == ["x-amz-checksum-crc32c:sOO8/Q=="])
        let (unsigned, unsignedTrailers) = try Self.decode(Self.unsignedTrailerBody, pieces: [], signing: nil)
        #expect(unsigned == Self.data)
        #expect(unsignedTrailers == trailers)
    }

    @Test("Signed with a signed trailer, and unsigned with a trailer: the same at every two-piece split and three-piece splits around each")
    func everySplit() throws {
        for (body, signing) in [(Self.smallSigned, Self.signing(seed: Self.smallSeed)), (Self.smallUnsigned, nil)] {
            for a in 0...body.count {
                for b in stride(from: a, through: min(body.count, a + 40), by: 8) {
                    let (got, trailers) = try Self.decode(body, pieces: [a, b], signing: signing)
                    guard got == Self.small, trailers == ["x-amz-checksum-crc32:IlLscg=="] else {
                        Issue.record("split at \(a), \(b) decodes differently")
                        return
                    }
                }
            }
        }
    }

    @Test("AWS's trailer example byte by byte")
    func byteByByte() throws {
        let cuts = Array(1..<Self.trailerBody.count)
        let (got, trailers) = try Self.decode(Self.trailerBody, pieces: cuts, signing: Self.signing(seed: Self.trailerSeed))
        #expect(got == Self.data)
        #expect(trailers == ["x-amz-checksum-crc32c:sOO8/Q=="])
    }

    @Test("A wrong seed, a changed byte, a changed trailer or a missing signature is SignatureDoesNotMatch")
    func wrongSignatures() throws {
        func code(_ body: [UInt8], seed: String) -> String? {
            do {
                _ = try Self.decode(body, pieces: [], signing: Self.signing(seed: seed))
                return nil
            } catch let e as ServiceError {
                return e.code
            } catch {
                return "\(error)"
            }
        }
        #expect(code(Self.signedBody, seed: Self.trailerSeed) == "SignatureDoesNotMatch")
        var flipped = Self.signedBody
        flipped[70_000 - 4000] = UInt8(ascii: "b")
        #expect(code(flipped, seed: Self.signedSeed) == "SignatureDoesNotMatch")
        let changedTrailer = Array(String(decoding: Self.trailerBody, as: UTF8.self).replacingOccurrences(of: "sOO8/Q==", with: "AAAAAA==").utf8)
        #expect(code(changedTrailer, seed: Self.trailerSeed) == "SignatureDoesNotMatch")
        #expect(code(Self.unsignedTrailerBody, seed: Self.trailerSeed) == "IncompleteBody")  // no chunk-signature
    }

    @Test("A body cut short, bytes after the end, a bad size line or a missing CRLF is IncompleteBody, naming the byte")
    func malformed() throws {
        func error(_ body: [UInt8]) -> ServiceError? {
            do {
                _ = try Self.decode(body, pieces: [], signing: nil)
                return nil
            } catch {
                return error as? ServiceError
            }
        }
        #expect(error(Array(Self.unsignedTrailerBody.dropLast(2)))?.code == "IncompleteBody")
        #expect(error(Array(Self.unsignedTrailerBody.prefix(1000)))?.code == "IncompleteBody")
        #expect(error(Self.unsignedTrailerBody + Array("x".utf8))?.code == "IncompleteBody")
        #expect(error(Array("zz\r\n".utf8))?.message.contains("at byte 4: 'zz' is not a chunk header") == true)
        var noCRLF = Self.unsignedTrailerBody
        noCRLF[7 + 65536] = UInt8(ascii: "x")  // "10000\r\n" is 7 bytes
        #expect(error(noCRLF)?.message.contains("is not followed by CRLF") == true)
        #expect(error(Array(repeating: UInt8(ascii: "1"), count: 5000))?.message.contains("longer than 4096 bytes") == true)
    }
}
