import Foundation
import HTTPTypes
import SousCrypto

/// Decodes an `aws-chunked` request body (SigV4 streaming uploads), fed in pieces of any size:
///
/// ```text
/// <hex size>[;chunk-signature=<sig>]\r\n <size bytes>\r\n   … repeated, then the final chunk of size 0,
/// [<trailing header>:<value>\r\n …] [x-amz-trailer-signature:<sig>\r\n] \r\n
/// ```
///
/// With ``Signing`` (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`) every chunk's signature is checked, each
/// chained from the previous one starting at the request's seed signature, and so is the trailer's; unsigned
/// (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`) chunk extensions are ignored. A pure state machine: the caller feeds bytes
/// and gets the decoded data back as slices of its input, never copied.
/// Spec: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and sigv4-streaming-trailers.html
struct AWSChunkedDecoder {
    /// The keys that sign the chunks, and the signature the next chunk chains from.
    struct Signing: Sendable {
        let signingKey: [UInt8]
        let amzDate: String
        /// `day/region/service/aws4_request`
        let scope: String
        /// The seed signature (the request's), then each chunk's in turn.
        var previous: String

        /// The signature of the next chunk, whose data hashes to `dataSHA256`.
        func chunkSignature(dataSHA256: [UInt8]) -> String {
            sign(["AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, previous, Self.emptySHA256, dataSHA256.hexString])
        }

        /// The signature of the trailing headers, whose canonical form (`name:value\n` each) hashes to `sha256`.
        func trailerSignature(trailerSHA256: [UInt8]) -> String {
            sign(["AWS4-HMAC-SHA256-TRAILER", amzDate, scope, previous, trailerSHA256.hexString])
        }

        private func sign(_ lines: [String]) -> String {
            Digest.hmacSHA256(key: signingKey, data: Array(lines.joined(separator: "\n").utf8)).hexString
        }

        static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    }

    private enum State {
        /// Reading a chunk's header line into `line`.
        case header
        /// Inside a chunk's data.
        case data(remaining: Int)
        /// After a chunk's data: `matched` bytes of its closing CRLF seen.
        case dataEnd(matched: Int)
        /// After the final chunk: reading trailing header lines until an empty one.
        case trailer
        case done
    }

    /// The longest header or trailer line accepted (a chunk header is ~85 bytes).
    static let maxLine = 4096
    /// The most trailing headers accepted.
    static let maxTrailers = 16

    private var state = State.header
    private var line: [UInt8] = []
    private var signing: Signing?
    /// The signature the current chunk's header declared.
    private var declaredSignature: String?
    private var chunkHash = SHA256Hasher()
    private var trailerSignature: String?
    private var trailerLines: [String] = []
    /// The trailing headers (names lower-case), once ``finish()`` returned.
    private(set) var trailers: [(name: String, value: String)] = []
    /// Decoded bytes so far.
    private(set) var decodedLength: UInt64 = 0
    /// Encoded bytes consumed so far (for error positions).
    private var offset: UInt64 = 0

    init(signing: Signing?) { self.signing = signing }

    /// Decodes `input`, handing each piece of chunk data to `emit` (slices of `input`).
    /// - Throws: `ServiceError` `IncompleteBody` for broken framing, `SignatureDoesNotMatch` for a wrong chunk or
    ///   trailer signature, or what `emit` throws.
    mutating func decode(_ input: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var i = 0
        while i < input.count {
            switch state {
            case .header, .trailer:
                guard let nl = input[i...].firstIndex(of: UInt8(ascii: "\n")) else {
                    try appendLine(input[i...])
                    offset += UInt64(input.count - i)
                    i = input.count
                    break
                }
                try appendLine(input[i..<nl])
                offset += UInt64(nl + 1 - i)
                i = nl + 1
                guard line.last == UInt8(ascii: "\r") else { throw malformed("a line does not end in CRLF") }
                line.removeLast()
                let text = String(decoding: line, as: UTF8.self)
                line.removeAll(keepingCapacity: true)
                if case .header = state { try startChunk(text) } else { try trailerLine(text) }
            case .data(let remaining):
                let n = min(remaining, input.count - i)
                let piece = UnsafeRawBufferPointer(rebasing: input[i..<i + n])
                if signing != nil { chunkHash.update(piece) }
                try emit(piece)
                decodedLength += UInt64(n)
                offset += UInt64(n)
                i += n
                state = n == remaining ? .dataEnd(matched: 0) : .data(remaining: remaining - n)
            case .dataEnd(let matched):
                guard input[i] == (matched == 0 ? UInt8(ascii: "\r") : UInt8(ascii: "\n")) else {
                    throw malformed("a chunk's data is not followed by CRLF")
                }
                offset += 1
                i += 1
                if matched == 0 {
                    state = .dataEnd(matched: 1)
                } else {
                    try endChunk()
                    state = .header
                }
            case .done:
                throw malformed("bytes follow the end of the body")
            }
        }
    }

    /// Checks that the body ended where the encoding does; returns the trailing headers.
    /// - Throws: `ServiceError` `IncompleteBody` when the body stopped inside the encoding.
    mutating func finish() throws -> [(name: String, value: String)] {
        guard case .done = state else { throw malformed("the body ends before the final chunk and its trailer") }
        return trailers
    }

    // MARK: Steps

    private mutating func appendLine(_ bytes: Slice<UnsafeRawBufferPointer>) throws {
        guard line.count + bytes.count <= Self.maxLine else { throw malformed("a line is longer than \(Self.maxLine) bytes") }
        line.append(contentsOf: bytes)
    }

    /// A chunk header: `<hex size>[;name=value…]`.
    private mutating func startChunk(_ text: String) throws {
        let fields = text.split(separator: ";", omittingEmptySubsequences: false)
        guard let sizeText = fields.first, !sizeText.isEmpty, sizeText.count <= 15, let size = Int(sizeText, radix: 16) else {
            throw malformed("'\(text.prefix(40))' is not a chunk header")
        }
        declaredSignature = nil
        for f in fields.dropFirst() where f.hasPrefix("chunk-signature=") {
            declaredSignature = String(f.dropFirst("chunk-signature=".count))
        }
        if signing != nil && declaredSignature == nil { throw malformed("a chunk of a signed upload has no chunk-signature") }
        if size == 0 {
            try endChunk()
            state = .trailer
        } else {
            state = .data(remaining: size)
        }
    }

    /// Checks the signature of the chunk just read and chains the next one from it.
    private mutating func endChunk() throws {
        guard var s = signing, let declared = declaredSignature else { return }
        let hash = chunkHash.finalize()
        chunkHash = SHA256Hasher()
        let expected = s.chunkSignature(dataSHA256: hash)
        guard Self.equal(expected, declared) else {
            throw ServiceError(
                .forbidden, "SignatureDoesNotMatch",
                "The chunk signature at byte \(offset) of the aws-chunked body does not match the signature we calculated.")
        }
        s.previous = declared
        signing = s
    }

    /// A trailing header line, the trailer signature, or the empty line that ends the body.
    private mutating func trailerLine(_ text: String) throws {
        guard !text.isEmpty else { return try endTrailer() }
        guard let colon = text.firstIndex(of: ":") else { throw malformed("'\(text.prefix(40))' is not a trailing header") }
        let name = text[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        if name == "x-amz-trailer-signature" {
            trailerSignature = value
            return
        }
        guard trailers.count < Self.maxTrailers else { throw malformed("more than \(Self.maxTrailers) trailing headers") }
        trailers.append((name, value))
        trailerLines.append("\(name):\(value)\n")
    }

    private mutating func endTrailer() throws {
        if let s = signing, !trailers.isEmpty {
            guard let declared = trailerSignature else {
                throw ServiceError(.forbidden, "SignatureDoesNotMatch", "The aws-chunked body's trailing headers are not signed (x-amz-trailer-signature).")
            }
            let expected = s.trailerSignature(trailerSHA256: Digest.sha256(Array(trailerLines.joined().utf8)))
            guard Self.equal(expected, declared) else {
                throw ServiceError(
                    .forbidden, "SignatureDoesNotMatch", "The trailer signature of the aws-chunked body does not match the signature we calculated.")
            }
        }
        state = .done
    }

    private func malformed(_ what: String) -> ServiceError {
        ServiceError(.badRequest, "IncompleteBody", "The aws-chunked body is malformed at byte \(offset): \(what).")
    }

    /// Constant-time comparison of two signatures.
    private static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
