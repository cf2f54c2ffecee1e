import Foundation
import SousBasics
import SousCrypto

/// Persisted state of a multipart upload (for resume).
public struct S3MultipartState: Codable, Sendable, Equatable {
    public var bucket: String
    public var key: String
    public var uploadId: String
    public var fileSize: UInt64
    public var partSize: UInt64
    /// File modification time (seconds since 1970) when the upload started.
    public var modified: Double
    /// The checksum algorithm the upload was created with (`CRC32`); nil for a state written before sous sent
    /// checksums (that upload goes on without them).
    public var checksumAlgorithm: String?

    public init(
        bucket: String, key: String, uploadId: String, fileSize: UInt64, partSize: UInt64, modified: Double,
        checksumAlgorithm: String? = nil
    ) {
        self.bucket = bucket
        self.key = key
        self.uploadId = uploadId
        self.fileSize = fileSize
        self.partSize = partSize
        self.modified = modified
        self.checksumAlgorithm = checksumAlgorithm
    }

    /// The state file for `bucket`/`key` inside `directory`.
    public static func path(directory: String, bucket: String, key: String) -> String {
        let name = Digest.sha256(Data("\(bucket)/\(key)".utf8)).hexString.prefix(32)
        return (directory as NSString).appendingPathComponent("s3-multipart-\(name).json")
    }

    /// Writes the state atomically and durably (`DurableFile`): a crash right after never loses the UploadId.
    public func save(to path: String) throws {
        try JSONEncoder().encode(self).withUnsafeBytes { try DurableFile.write($0, to: path) }
    }

    public static func load(from path: String) -> S3MultipartState? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(S3MultipartState.self, from: d)
    }
}
