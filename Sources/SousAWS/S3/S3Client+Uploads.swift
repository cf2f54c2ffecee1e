import Foundation
import SousBasics
import SousCrypto
import SousHTTP

extension S3Client {
    /// Uploads `path` to `s3://bucket/key`: single PutObject below the threshold, else a parallel multipart
    /// upload (aborted on failure; resumable via `options.stateDirectory` after an interruption). Skips the upload
    /// when the object already holds the same bytes.
    public func uploadFile(_ givenPath: String, bucket: String, key: String, options: S3TransferOptions = .init())
        async throws -> S3UploadResult
    {
        // Follow symlinks (Hugging Face cache snapshots link into blobs/).
        let path = URL(fileURLWithPath: givenPath).resolvingSymlinksInPath().path
        guard let st = FileStatus(path) else {
            throw AWSConfigError("Cannot upload \(path): the file does not exist or cannot be read.")
        }
        let size = st.size
        let modified = st.modified
        let multipart = size >= options.multipartThreshold && size > 0
        var sha: String?
        // A 403 on HEAD (no s3:ListBucket, object absent) just means "unknown": upload.
        var existing: S3ObjectHead?
        if options.skipUnchanged {
            if let listed = options.existing, listed[key]?.size != size {
                existing = nil  // absent, or another size: it cannot be unchanged
            } else if let listed = options.existing?[key], !listed.etag.contains("-") {
                existing = S3ObjectHead(size: listed.size, etag: listed.etag, metadata: [:])  // single-part: ETag is the MD5
            } else {
                do {
                    existing = try await headObject(bucket: bucket, key: key)
                } catch let e as AWSError where e.status == 403 {
                    existing = nil
                }
            }
        }
        if let head = existing, head.size == size {
            if let recorded = head.metadata["sous-sha256"] {
                let local = try await Self.fileDigestOffPool(path, 0, size, .sha256)
                sha = local
                if recorded == local {
                    options.progress?(size, size)
                    return S3UploadResult(bucket: bucket, key: key, size: size, uploaded: false, partsReused: 0, partCount: 0)
                }
            } else if !head.etag.contains("-"), try await Self.fileDigestOffPool(path, 0, size, .md5) == head.etag.lowercased() {
                options.progress?(size, size)
                return S3UploadResult(bucket: bucket, key: key, size: size, uploaded: false, partsReused: 0, partCount: 0)
            }
        }
        if !multipart {
            var r = request("PutObject", "PUT", bucket: bucket, key: key)
            r.body = size == 0 ? .bytes(Data()) : .file(path: path, offset: 0, length: size)
            r.unsignedPayload = options.unsignedPayload
            if let ct = options.contentType { r.headers.set("Content-Type", ct) }
            if let tags = options.tags, !tags.isEmpty { r.headers.set("x-amz-tagging", Self.taggingHeader(tags)) }
            _ = try await client.send(r)
            options.progress?(size, size)
            return S3UploadResult(bucket: bucket, key: key, size: size, uploaded: true, partsReused: 0, partCount: 1)
        }
        return try await multipartUpload(
            path, size: size, modified: modified, sha: sha, bucket: bucket, key: key, options: options)
    }

    /// A part size for a file of `fileSize` bytes: a sixteenth of the file (so one file still fills the
    /// connections), at least 8 MiB and at most 64 MiB, in whole MiB. Fewer, larger parts mean fewer requests
    /// for both ends to handle; it depends on the file's size alone, so an interrupted upload resumes with the
    /// same parts.
    public static func automaticPartSize(fileSize: UInt64) -> UInt64 {
        let mib: UInt64 = 1 << 20
        let sixteenth = ((fileSize + 15) / 16 + mib - 1) / mib * mib
        return min(max(sixteenth, 8 * mib), 64 * mib)
    }

    /// Part size for a file: at least `requested`, large enough for ≤ 10,000 parts (rounded up to 1 MiB).
    public static func effectivePartSize(fileSize: UInt64, requested: UInt64) -> UInt64 {
        let minimum = (fileSize + 9_999) / 10_000
        var p = max(requested, minimum, 1)
        if p != requested { p = (p + (1 << 20) - 1) / (1 << 20) * (1 << 20) }
        return p
    }

    private func multipartUpload(
        _ path: String, size: UInt64, modified: Double, sha: String?, bucket: String, key: String, options: S3TransferOptions
    ) async throws -> S3UploadResult {
        let requested = options.automaticPartSize ? Self.automaticPartSize(fileSize: size) : options.partSize
        let partSize = Self.effectivePartSize(fileSize: size, requested: max(requested, options.minimumPartSize))
        let partCount = Int((size + partSize - 1) / partSize)
        let statePath = options.stateDirectory.map { S3MultipartState.path(directory: $0, bucket: bucket, key: key) }
        var uploadId: String?
        var done: [Int: S3Part] = [:]
        if let statePath, let state = S3MultipartState.load(from: statePath) {
            if state.bucket == bucket, state.key == key, state.fileSize == size, state.partSize == partSize,
                abs(state.modified - modified) < 1e-6  // (seconds as a Double: rounding differs between sources)
            {
                do {
                    let listed = try await listParts(bucket: bucket, key: key, uploadId: state.uploadId)
                    uploadId = state.uploadId
                    for p in listed where p.number >= 1 && p.number <= partCount {
                        let off = UInt64(p.number - 1) * partSize
                        let len = min(partSize, size - off)
                        guard p.size == len, try await Self.fileDigestOffPool(path, off, len, .md5) == Self.unquote(p.etag).lowercased()
                        else { continue }
                        done[p.number] = p
                    }
                } catch let e as AWSError where e.isNotFound {
                    uploadId = nil
                }
            } else {
                try? await abortMultipartUpload(bucket: bucket, key: key, uploadId: state.uploadId)
            }
        }
        let reused = done.count
        let id: String
        if let uploadId {
            id = uploadId
        } else {
            let digest: String
            if let sha { digest = sha } else { digest = try await Self.fileDigestOffPool(path, 0, size, .sha256) }
            id = try await createMultipartUpload(
                bucket: bucket, key: key, contentType: options.contentType, metadata: ["sous-sha256": digest],
                tags: options.tags)
            if let statePath {
                try S3MultipartState(bucket: bucket, key: key, uploadId: id, fileSize: size, partSize: partSize, modified: modified)
                    .save(to: statePath)
            }
        }
        let todo = (1...partCount).filter { done[$0] == nil }
        var bytesDone = done.values.reduce(UInt64(0)) { $0 + $1.size }
        options.progress?(bytesDone, size)
        do {
            try await withThrowingTaskGroup(of: S3Part.self) { group in
                var next = 0
                func launch() {
                    let n = todo[next]
                    next += 1
                    let off = UInt64(n - 1) * partSize
                    let len = min(partSize, size - off)
                    group.addTask {
                        try Task.checkCancellation()
                        var r = self.request(
                            "UploadPart", "PUT", bucket: bucket, key: key,
                            query: [("partNumber", String(n)), ("uploadId", id)])
                        r.body = .file(path: path, offset: off, length: len)
                        r.unsignedPayload = options.unsignedPayload
                        let resp = try await self.client.send(r)
                        return S3Part(number: n, etag: resp.headers["ETag"] ?? "", size: len)
                    }
                }
                while next < todo.count && next < max(1, options.concurrency) { launch() }
                while let part = try await group.next() {
                    done[part.number] = part
                    bytesDone += part.size
                    options.progress?(bytesDone, size)
                    if next < todo.count { launch() }
                }
            }
            try await completeMultipartUpload(bucket: bucket, key: key, uploadId: id, parts: Array(done.values))
        } catch {
            let cancelled = error is CancellationError || (error as? HTTPError)?.kind == .cancelled || Task.isCancelled
            if !cancelled {
                // A real failure: abort so no orphaned parts keep costing money, and forget the state.
                try? await abortMultipartUpload(bucket: bucket, key: key, uploadId: id)
                if let statePath { try? FileManager.default.removeItem(atPath: statePath) }
            }
            throw error
        }
        if let statePath { try? FileManager.default.removeItem(atPath: statePath) }
        return S3UploadResult(bucket: bucket, key: key, size: size, uploaded: true, partsReused: reused, partCount: partCount)
    }

    enum DigestKind { case sha256, md5 }

    /// `fileDigest` on a thread of its own: hashing a large file takes a while, and doing it on the Swift
    /// concurrency pool (as wide as the core count; on Linux it shares Dispatch's global queue threads too)
    /// would hold up the transfers that share the pool meanwhile.
    static func fileDigestOffPool(_ path: String, _ offset: UInt64, _ length: UInt64, _ kind: DigestKind) async throws -> String {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<String, any Error>) in
            Thread.detachNewThread { c.resume(with: Result { try fileDigest(path, offset, length, kind) }) }
        }
    }

    /// Hex digest of a file region, read in 1 MiB chunks.
    static func fileDigest(_ path: String, _ offset: UInt64, _ length: UInt64, _ kind: DigestKind) throws -> String {
        do {
            if kind == .sha256 {
                // The whole file: usually already hashed for the step's fingerprint in this process.
                if offset == 0, let whole = try FileDigestCache.sha256(ofFile: path, ifSize: length) {
                    return whole.hexString
                }
                return try sha256OfFile(atPath: path, offset: offset, length: length).hexString
            }
            return try md5OfFile(atPath: path, offset: offset, length: length).hexString
        } catch let e as FileReadError {
            throw AWSConfigError(e.description)
        } catch {
            throw AWSConfigError("Cannot read \(path): \(error.localizedDescription).")
        }
    }
}
