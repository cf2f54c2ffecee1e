import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SousCrypto

/// A request's body, readable only through the checks its signature and headers call for. ``SigV4Authentication``
/// makes it from the headers and hands it to the handlers in the context (the request's own body is emptied).
/// Reading starts the body's transfer (`100 Continue` for a client that waits for it), decodes an aws-chunked body
/// (checking each chunk's signature), and ends with the body checked: its length (`Content-Length`, or
/// `x-amz-decoded-content-length` for aws-chunked), `Content-MD5`, the signed `x-amz-content-sha256`, and the
/// flexible checksum declared in a header or the trailer.
struct RequestPayload: Sendable {
    /// What the signature says about the body.
    enum Integrity: Sendable {
        /// `UNSIGNED-PAYLOAD`, a presigned URL, or a body already checked by the middleware.
        case unsigned
        /// The lower-case hex SHA-256 the signature covers.
        case sha256(String)
        /// An aws-chunked body (`STREAMING-…`), with the keys that check its chunk signatures when they are signed.
        case chunked(AWSChunkedDecoder.Signing?)
    }

    private let body: RequestBody
    let integrity: Integrity
    /// The decoded body's length the headers declare.
    private let declaredLength: UInt64?
    private let contentMD5: String?
    /// The flexible checksum the headers declare (``S3Checksums/expectation(_:)``), checked once the body is read.
    let checksum: S3Checksums.Expectation?
    /// Set when the client waits for `100 Continue` before sending the body.
    private let continueChannel: (any Channel)?

    /// No body.
    static let empty = RequestPayload(
        body: RequestBody(buffer: ByteBuffer()), integrity: .unsigned, declaredLength: nil, contentMD5: nil, checksum: nil, channel: nil)

    private init(
        body: RequestBody, integrity: Integrity, declaredLength: UInt64?, contentMD5: String?, checksum: S3Checksums.Expectation?,
        channel: (any Channel)?
    ) {
        self.body = body
        self.integrity = integrity
        self.declaredLength = declaredLength
        self.contentMD5 = contentMD5
        self.checksum = checksum
        continueChannel = channel
    }

    /// The body of `wire` as it arrives on `channel`.
    /// - Throws: `ServiceError` for headers S3 refuses: a malformed checksum declaration, an aws-chunked body
    ///   without `x-amz-decoded-content-length`, a trailer checksum on a body that is not aws-chunked.
    init(body: RequestBody, integrity: Integrity, wire: WireRequest, channel: (any Channel)?) throws {
        let checksum = try S3Checksums.expectation(wire)
        let length: UInt64?
        if case .chunked = integrity {
            guard let decoded = wire.header("x-amz-decoded-content-length").flatMap({ UInt64($0) }) else {
                throw ServiceError(.lengthRequired, "MissingContentLength", "An aws-chunked body needs the x-amz-decoded-content-length header.")
            }
            length = decoded
        } else {
            if checksum != nil && checksum?.value == nil {
                throw S3Checksums.invalidRequest("The x-amz-trailer header needs an aws-chunked body (Content-Encoding: aws-chunked).")
            }
            length = wire.header("content-length").flatMap { UInt64($0) }
        }
        self.init(
            body: body, integrity: integrity, declaredLength: length, contentMD5: wire.header("content-md5"), checksum: checksum,
            channel: wire.header("expect")?.lowercased() == "100-continue" ? channel : nil)
    }

    /// A body the middleware has read and checked already.
    init(collected bytes: [UInt8]) {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        self.init(body: RequestBody(buffer: buffer), integrity: .unsigned, declaredLength: nil, contentMD5: nil, checksum: nil, channel: nil)
    }

    /// Reads a small body whole (XML and JSON requests), refusing more than `limit` bytes. `checksummed` false: the
    /// request's `x-amz-checksum-*` is not its body's (CompleteMultipartUpload declares the object's that way).
    func collect(limit: Int, checksummed: Bool = true) async throws -> [UInt8] {
        var reader = start(checksum: nil, declared: checksummed)
        var out: [UInt8] = []
        for try await buffer in body {
            try buffer.withUnsafeReadableBytes { raw in
                try reader.feed(raw) { piece in
                    guard out.count + piece.count <= limit else {
                        throw ServiceError(.contentTooLarge, "EntityTooLarge", "The request body is larger than \(limit) bytes.")
                    }
                    out += piece
                }
            }
        }
        _ = try finish(&reader, size: UInt64(out.count), md5: { Digest.md5(out) }, declared: checksummed)
        return out
    }

    /// Streams the body to a new file at `url` (``BodyIO/receive(_:to:reader:)``), checked; the file is removed when a
    /// check fails. `checksum` is computed when the request declares none (an upload part of an upload that has an
    /// algorithm).
    func receive(to url: URL, checksum: ChecksumAlgorithm? = nil) async throws -> ReceivedFile {
        var reader = start(checksum: checksum, declared: true)
        var file = try await BodyIO.receive(body, to: url, reader: &reader)
        do {
            file.checksum = try finish(&reader, size: file.size, md5: { file.md5 }, declared: true)
        } catch {
            try? FileManager.default.removeItem(at: file.url)
            throw error
        }
        return file
    }

    /// Lets the body come (a client that sent `Expect: 100-continue` gets its `100 Continue` now) and makes the
    /// reader that decodes and hashes it.
    private func start(checksum computed: ChecksumAlgorithm?, declared: Bool) -> BodyReader {
        continueChannel?.triggerUserOutboundEvent(ExpectContinueHandler.SendContinue(), promise: nil)
        var reader = BodyReader()
        if case .sha256 = integrity { reader.sha256 = SHA256Hasher() }
        if case .chunked(let signing) = integrity { reader.decoder = AWSChunkedDecoder(signing: signing) }
        if let algorithm = (declared ? checksum?.algorithm : nil) ?? computed { reader.checksum = Checksum(algorithm) }
        return reader
    }

    /// The checks every body passes once read (its length, `Content-MD5`, the signed SHA-256, the declared
    /// checksum); returns the checksum computed.
    private func finish(_ reader: inout BodyReader, size: UInt64, md5: () -> [UInt8], declared: Bool) throws
        -> (algorithm: ChecksumAlgorithm, digest: [UInt8])?
    {
        let trailers = try reader.decoder?.finish() ?? []
        if let declared = declaredLength, declared != size {
            throw ServiceError(
                .badRequest, "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header (\(declared) declared, \(size) received).")
        }
        if let want = contentMD5, want != md5().base64String {
            throw ServiceError(.badRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        }
        if case .sha256(let want) = integrity, want != reader.sha256?.finalize().hexString {
            throw ServiceError(
                .badRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
        }
        guard let computed = reader.checksum else { return nil }
        let algorithm = computed.algorithm
        let digest = computed.digest()
        if declared, let expected = checksum {
            let header = algorithm.headerName
            guard let value = expected.value ?? trailers.first(where: { $0.name == header })?.value else {
                throw S3Checksums.invalidRequest("The x-amz-trailer header names \(header), but the body's trailer does not hold it.")
            }
            guard let want = S3Checksums.digest(value, algorithm) else { throw S3Checksums.invalidValue(header) }
            guard want == digest else { throw S3Checksums.badDigest(algorithm) }
        }
        return (algorithm, digest)
    }
}

/// Decodes (aws-chunked) and hashes a body's bytes as they arrive, handing on the decoded bytes.
struct BodyReader {
    var decoder: AWSChunkedDecoder?
    var sha256: SHA256Hasher?
    var checksum: Checksum?

    /// Feeds bytes as they arrived; `emit` gets the body's own bytes (decoded, hashed), as slices of `raw`.
    mutating func feed(_ raw: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard var d = decoder else {
            hash(raw)
            return try emit(raw)
        }
        defer { decoder = d }
        try d.decode(raw) { piece in
            hash(piece)
            try emit(piece)
        }
    }

    private mutating func hash(_ bytes: UnsafeRawBufferPointer) {
        sha256?.update(bytes)
        checksum?.update(bytes)
    }
}
