import Foundation
import SousCrypto

extension S3Client {
    /// Uploads every regular file under `folder` to `s3://bucket/prefix/<relative path>`; `options.progress`
    /// reports bytes over the whole folder.
    /// Returns the prefix URI (`s3://bucket/prefix`), like `sagemaker.Session.upload_data` for a folder.
    public func uploadFolder(_ folder: String, bucket: String, prefix: String, options: S3TransferOptions = .init())
        async throws -> S3FolderUploadResult
    {
        let cleanPrefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let root = URL(fileURLWithPath: folder).standardizedFileURL
        guard let e = FileManager.default.enumerator(atPath: root.path) else {
            throw AWSConfigError("Cannot read the folder \(folder).")
        }
        var files: [(path: String, key: String)] = []
        while let rel = e.nextObject() as? String {
            let full = root.appendingPathComponent(rel).path
            var isDir: ObjCBool = false
            // fileExists follows symlinks: linked files are uploaded with their target's bytes.
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue else { continue }
            files.append((full, cleanPrefix.isEmpty ? rel : cleanPrefix + "/" + rel))
        }
        files.sort { $0.key < $1.key }
        var results: [S3UploadResult] = []
        var perFileOptions = options
        perFileOptions.progress = nil
        let perFile = perFileOptions
        // Small files in parallel; large ones one at a time (their parts are parallel).
        func size(_ p: String) -> UInt64 {
            let real = URL(fileURLWithPath: p).resolvingSymlinksInPath().path
            return FileStat(real)?.size ?? 0
        }
        let small = files.filter { size($0.path) < options.multipartThreshold }
        let totalBytes = files.reduce(UInt64(0)) { $0 + size($1.path) }
        var doneBytes: UInt64 = 0
        let smallKeys = Set(small.map(\.key))
        try await withThrowingTaskGroup(of: S3UploadResult.self) { group in
            var next = 0
            while next < small.count && next < max(1, options.concurrency) {
                let (fp, fk) = (small[next].path, small[next].key)
                next += 1
                group.addTask { try await self.uploadFile(fp, bucket: bucket, key: fk, options: perFile) }
            }
            while let r = try await group.next() {
                results.append(r)
                doneBytes += r.size
                options.progress?(doneBytes, totalBytes)
                if next < small.count {
                    let (fp, fk) = (small[next].path, small[next].key)
                    next += 1
                    group.addTask { try await self.uploadFile(fp, bucket: bucket, key: fk, options: perFile) }
                }
            }
        }
        for f in files where !smallKeys.contains(f.key) {
            // Large files report their parts' progress on top of what is already done.
            var bigOptions = perFile
            let base = doneBytes
            if let progress = options.progress {
                bigOptions.progress = { done, _ in progress(base + done, totalBytes) }
            }
            let r = try await uploadFile(f.path, bucket: bucket, key: f.key, options: bigOptions)
            results.append(r)
            doneBytes += r.size
        }
        results.sort { $0.key < $1.key }
        let uri = cleanPrefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(cleanPrefix)"
        return S3FolderUploadResult(uri: uri, files: results)
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
