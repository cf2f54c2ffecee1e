import Foundation

/// Settings of uploads.
public struct S3TransferOptions: Sendable {
    /// Files at least this large use multipart upload (AWS CLI default 8 MiB).
    public var multipartThreshold: UInt64 = 8 << 20
    /// Part size (AWS CLI default 8 MiB); raised automatically so a file needs at most 10,000 parts.
    public var partSize: UInt64 = 8 << 20
    /// Ignore `partSize` and size each file's parts by `automaticPartSize(fileSize:)` (the s3.upload step's
    /// default).
    public var automaticPartSize = false
    /// S3's minimum part size (all parts but the last); only tests against emulators lower it.
    public var minimumPartSize: UInt64 = 5 << 20
    /// Parts (or small files) uploaded at once. Memory stays bounded: bodies stream from the file.
    public var concurrency: Int = 4
    /// Skip objects that already hold the same bytes (size plus the sha256 sous records for multipart uploads,
    /// or ETag == MD5 for single-part objects).
    public var skipUnchanged: Bool = true
    /// Folder for multipart state files (one small JSON per upload holding its UploadId), so an interrupted
    /// upload resumes with ListParts. nil = no resume.
    public var stateDirectory: String?
    /// Send `UNSIGNED-PAYLOAD` instead of hashing bodies, over HTTPS and to loopback addresses; plain HTTP to
    /// any other host always signs the real hash.
    public var unsignedPayload: Bool = true
    /// Content-Type for uploaded objects (nil = none; S3 stores binary/octet-stream).
    public var contentType: String?
    /// What the destination already holds (key → listed object), from one ListObjectsV2 of the prefix taken
    /// before a folder upload. With it, a key that is absent or has another size is uploaded without a
    /// HeadObject; only a same-size object whose ETag cannot be checked locally is asked about. nil = ask
    /// HeadObject for every file.
    public var existing: [String: S3Object]?
    /// Object tags sent with the upload itself (`x-amz-tagging` on PutObject and CreateMultipartUpload), so
    /// tagging costs no extra request. nil = no tags.
    public var tags: [String: String]?
    /// Called after each part or file with (bytes done, bytes total).
    public var progress: (@Sendable (UInt64, UInt64) -> Void)?

    public init() {}
}
