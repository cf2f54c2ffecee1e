import Foundation
import SousBasics
import SousCrypto
import Synchronization

extension S3Client {
    /// Large (multipart) files a folder upload sends side by side, each with `options.concurrency` parts.
    public static let largeFilesAtOnce = 2

    /// Uploads every regular file under `folder` (links followed, as Hugging Face cache snapshots need) to
    /// `s3://bucket/prefix/<relative path>`; `options.progress` reports bytes over the whole folder.
    ///
    /// Large files go first, up to ``largeFilesAtOnce`` at once (each with `options.concurrency` parts), with
    /// small files filling the remaining of the `options.concurrency` slots; the large files after the first
    /// ones are hashed on a thread of their own meanwhile, so checksum passes overlap transfers. With
    /// `options.skipUnchanged` the destination is listed once (``S3TransferOptions/existing``) instead of a
    /// HeadObject per file; when that listing fails (no `s3:ListBucket`, …) each file is asked about.
    ///
    /// - Returns: the prefix URI (`s3://bucket/prefix`, like `sagemaker.Session.upload_data` for a folder) and
    ///   every file's outcome, sorted by key.
    /// - Throws: `AWSConfigError` when the folder cannot be read; otherwise the first failed upload's error.
    public func uploadFolder(_ folder: String, bucket: String, prefix: String, options: S3TransferOptions = .init())
        async throws -> S3FolderUploadResult
    {
        let prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let root = URL(fileURLWithPath: folder).standardizedFileURL
        guard access(root.path, R_OK | X_OK) == 0 else { throw AWSConfigError("Cannot read the folder \(folder).") }
        var files: [(path: String, key: String, size: UInt64)] = []
        for (rel, status) in FileTree.regularFiles(under: root.path) {
            files.append((root.path + "/" + rel, prefix.isEmpty ? rel : prefix + "/" + rel, status.size))
        }
        // Large files first (they take longest), then small ones.
        files.sort { ($0.size >= options.multipartThreshold ? 0 : 1, $0.key) < ($1.size >= options.multipartThreshold ? 0 : 1, $1.key) }
        let total = files.reduce(UInt64(0)) { $0 + $1.size }
        // Each large file needs its SHA-256 before its upload starts (`sous-sha256`); the first ones are hashed
        // as they start, the others on a thread of their own meanwhile, so none waits for its hash later.
        let large = files.filter { $0.size >= options.multipartThreshold }
        FileDigestCache.prefetch(large.dropFirst(Self.largeFilesAtOnce).map(\.path))
        var options = options
        if options.skipUnchanged && files.count > 1 {
            // One listing instead of a HeadObject per file; on any error (no s3:ListBucket, …) ask per file.
            if let listed = try? await listObjects(bucket: bucket, prefix: prefix.isEmpty ? nil : prefix + "/") {
                options.existing = Dictionary(listed.map { ($0.key, $0) }) { a, _ in a }
            }
        }
        let progress = options.progress.map { FolderProgress(total: total, report: $0) }
        var results: [S3UploadResult] = []
        try await withThrowingTaskGroup(of: (S3UploadResult, Bool).self) { group in
            var pending = files[...]
            var bigInFlight = 0, inFlight = 0
            func launchable() -> Int? {
                guard inFlight < max(1, options.concurrency) else { return nil }
                return pending.firstIndex { $0.size < options.multipartThreshold || bigInFlight < Self.largeFilesAtOnce }
            }
            func launch(_ i: Int) {
                let f = pending.remove(at: i)
                let big = f.size >= options.multipartThreshold
                if big { bigInFlight += 1 }
                inFlight += 1
                var o = options
                o.progress = progress.map { folder in { @Sendable fileDone, _ in folder.update(f.key, done: fileDone) } }
                let opts = o
                group.addTask {
                    let r = try await self.uploadFile(f.path, bucket: bucket, key: f.key, options: opts)
                    return (r, big)
                }
            }
            while let i = launchable() { launch(i) }
            while let (r, big) = try await group.next() {
                results.append(r)
                inFlight -= 1
                if big { bigInFlight -= 1 }
                while let i = launchable() { launch(i) }
            }
        }
        let uri = prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix)"
        return S3FolderUploadResult(uri: uri, files: results.sorted { $0.key < $1.key })
    }

    /// `sagemaker.Session.upload_data`: a file goes to `prefix/<file name>` and its object URI is returned;
    /// a folder goes under `prefix` and the prefix URI is returned.
    public func uploadData(_ path: String, bucket: String, keyPrefix: String, options: S3TransferOptions = .init())
        async throws -> String
    {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw AWSConfigError("Cannot upload \(path): it does not exist.")
        }
        if isDir.boolValue {
            return try await uploadFolder(path, bucket: bucket, prefix: keyPrefix, options: options).uri
        }
        let p = keyPrefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let name = (path as NSString).lastPathComponent
        return try await uploadFile(path, bucket: bucket, key: p.isEmpty ? name : "\(p)/\(name)", options: options).uri
    }
}

/// The bytes done of each file of a folder upload, summed into the folder's progress.
private final class FolderProgress: Sendable {
    private let doneByKey = Mutex<[String: UInt64]>([:])
    private let total: UInt64
    private let report: @Sendable (UInt64, UInt64) -> Void

    init(total: UInt64, report: @escaping @Sendable (UInt64, UInt64) -> Void) {
        self.total = total
        self.report = report
    }

    /// Records that `key` has `done` bytes sent and reports the folder's sum; reported under the lock, so the
    /// sums reach `report` in order and never go down.
    func update(_ key: String, done: UInt64) {
        doneByKey.withLock { d in
            d[key] = done
            report(d.values.reduce(0, +), total)
        }
    }
}
