import Foundation
import Hummingbird
import NIOCore
import SousCrypto

/// A request's body, readable only through the checks its signature calls for. ``SigV4Authentication`` makes it
/// from the headers and hands it to the handlers in the context (the request's own body is emptied); reading starts
/// the body's transfer (`100 Continue` for a client that waits for it) and ends with the body checked: its length
/// against `Content-Length`, `Content-MD5`, and the signed `x-amz-content-sha256`.
struct RequestPayload: Sendable {
    /// What the signature says about the body.
    enum Integrity: Sendable, Equatable {
        /// `UNSIGNED-PAYLOAD`, a presigned URL, or a body already checked by the middleware.
        case unsigned
        /// The lower-case hex SHA-256 the signature covers.
        case sha256(String)
        /// An aws-chunked body (`STREAMING-…`).
        case streaming(String)

        /// The integrity an `x-amz-content-sha256` header declares.
        init(declared: String?) throws {
            guard let d = declared, d != "UNSIGNED-PAYLOAD" else {
                self = .unsigned
                return
            }
            if d.utf8.count == 64, d.allSatisfy(\.isHexDigit) {
                self = .sha256(d.lowercased())
            } else if d.hasPrefix("STREAMING-") {
                self = .streaming(d)
            } else {
                throw ServiceError(
                    .badRequest, "InvalidArgument",
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a valid sha256 value (got '\(d)').")
            }
        }
    }

    private let body: RequestBody
    let integrity: Integrity
    private let declaredLength: UInt64?
    private let contentMD5: String?
    /// Set when the client waits for `100 Continue` before sending the body.
    private let continueChannel: (any Channel)?

    /// No body.
    static let empty = RequestPayload(body: RequestBody(buffer: ByteBuffer()), integrity: .unsigned, declaredLength: nil, contentMD5: nil, channel: nil)

    private init(body: RequestBody, integrity: Integrity, declaredLength: UInt64?, contentMD5: String?, channel: (any Channel)?) {
        self.body = body
        self.integrity = integrity
        self.declaredLength = declaredLength
        self.contentMD5 = contentMD5
        continueChannel = channel
    }

    /// The body of `wire` as it arrives on `channel`.
    init(body: RequestBody, integrity: Integrity, wire: WireRequest, channel: (any Channel)?) {
        self.init(
            body: body, integrity: integrity, declaredLength: wire.header("content-length").flatMap { UInt64($0) },
            contentMD5: wire.header("content-md5"),
            channel: wire.header("expect")?.lowercased() == "100-continue" ? channel : nil)
    }

    /// A body the middleware has read and checked already.
    init(collected bytes: [UInt8]) {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        self.init(body: RequestBody(buffer: buffer), integrity: .unsigned, declaredLength: nil, contentMD5: nil, channel: nil)
    }

    /// Lets the body come: a client that sent `Expect: 100-continue` gets its `100 Continue` now.
    private func start() throws {
        if case .streaming(let mode) = integrity {
            throw ServiceError(
                .notImplemented, "NotImplemented",
                "aws-chunked uploads (\(mode)) are not supported by the sous local cloud; send a plain body (signed or UNSIGNED-PAYLOAD).")
        }
        continueChannel?.triggerUserOutboundEvent(ExpectContinueHandler.SendContinue(), promise: nil)
    }

    /// Reads a small body whole (XML and JSON requests), refusing more than `limit` bytes.
    func collect(limit: Int) async throws -> [UInt8] {
        try start()
        var out: [UInt8] = []
        for try await buffer in body {
            guard out.count + buffer.readableBytes <= limit else {
                throw ServiceError(.contentTooLarge, "EntityTooLarge", "The request body is larger than \(limit) bytes.")
            }
            out += buffer.readableBytesView
        }
        try check(
            size: UInt64(out.count), md5: { Digest.md5(out) },
            sha256: { if case .sha256 = integrity { Digest.sha256(out) } else { [] } })
        return out
    }

    /// Streams the body to a new file at `url` (``BodyIO/receive(_:to:sha256:)``), checked; the file is removed when
    /// a check fails.
    func receive(to url: URL) async throws -> ReceivedFile {
        try start()
        let wantSHA: Bool
        if case .sha256 = integrity { wantSHA = true } else { wantSHA = false }
        let file = try await BodyIO.receive(body, to: url, sha256: wantSHA)
        do {
            try check(size: file.size, md5: { file.md5 }, sha256: { file.sha256 })
        } catch {
            try? FileManager.default.removeItem(at: file.url)
            throw error
        }
        return file
    }

    /// The checks every body passes once read: its length, `Content-MD5` and the signed SHA-256.
    private func check(size: UInt64, md5: () -> [UInt8], sha256: () -> [UInt8]) throws {
        if let declared = declaredLength, declared != size {
            throw ServiceError(
                .badRequest, "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header (\(declared) declared, \(size) received).")
        }
        if let want = contentMD5, want != md5().base64String {
            throw ServiceError(.badRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        }
        if case .sha256(let want) = integrity, want != sha256().hexString {
            throw ServiceError(
                .badRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
        }
    }
}
