public import Foundation

/// An S3 object as listed.
public struct S3Object: Sendable, Equatable {
    public var key: String
    public var size: UInt64
    /// ETag with its quotes removed.
    public var etag: String
    public var lastModified: Date?
}

/// HeadObject / GetObject metadata.
public struct S3ObjectHead: Sendable, Equatable {
    public var size: UInt64
    /// ETag with its quotes removed (`<md5>` for single-part uploads, `<hash>-<parts>` for multipart).
    public var etag: String
    public var lastModified: Date?
    public var contentType: String?
    /// User metadata (`x-amz-meta-*`), names lower-case without the prefix.
    public var metadata: [String: String]
}

/// A part of a multipart upload.
public struct S3Part: Sendable, Equatable, Codable {
    public var number: Int
    /// ETag as S3 returned it (with quotes).
    public var etag: String
    public var size: UInt64
    /// The part's CRC-32 (base64), sent with it and listed back by `ListParts`; nil for an upload without
    /// checksums.
    public var checksumCRC32: String?

    public init(number: Int, etag: String, size: UInt64, checksumCRC32: String? = nil) {
        self.number = number
        self.etag = etag
        self.size = size
        self.checksumCRC32 = checksumCRC32
    }
}

/// The outcome of uploading one file.
public struct S3UploadResult: Sendable, Equatable {
    public var bucket: String
    public var key: String
    public var size: UInt64
    /// False when the object was already identical and was skipped.
    public var uploaded: Bool
    /// Parts (multipart only) taken over from an interrupted upload.
    public var partsReused: Int
    public var partCount: Int
    /// The object's CRC-32 (base64, full-object for a multipart upload) that S3 checked, when it was sent
    /// (nil for a skipped object, or an upload resumed from a state without checksums).
    public var checksumCRC32: String? = nil
    public var uri: String { "s3://\(bucket)/\(key)" }
}

/// The outcome of uploading a folder.
public struct S3FolderUploadResult: Sendable, Equatable {
    /// `s3://bucket/prefix` (no trailing slash), like `sagemaker.Session.upload_data`.
    public var uri: String
    public var files: [S3UploadResult]
    public var uploadedCount: Int { files.filter(\.uploaded).count }
    public var skippedCount: Int { files.filter { !$0.uploaded }.count }
}

/// An unfinished multipart upload (`ListMultipartUploads`).
public struct S3MultipartUpload: Sendable, Equatable {
    public var key: String
    public var uploadId: String
    /// When it began (ISO 8601, as S3 sends it).
    public var initiated: String
}
