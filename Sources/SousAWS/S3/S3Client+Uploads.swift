import Foundation
import SousBasics
import SousCrypto
import SousHTTP

extension S3Client {
    /// Uploads `path` to `s3://bucket/key`: single PutObject below the threshold, else a parallel multipart
    /// upload. With `options.stateDirectory` an upload that fails (after its retries) or is interrupted keeps
    /// its parts and its state file, and the next call resumes it; only a changed file (or `sous destroy`)
    /// discards it. Without a state folder a failed upload is aborted. Skips the upload when the object
    /// already holds the same bytes.
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
        // SHA-256 and MiB CRC-32s in one read of the file, shared with the step's fingerprint when it read it.
        var digests: FileDigests?
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
                digests = try await Self.fileDigestsOffPool(path, size: size)
                if recorded == digests!.sha256.hexString {
                    options.progress?(size, size)
                    return S3UploadResult(bucket: bucket, key: key, size: size, uploaded: false, partsReused: 0, partCount: 0)
                }
            } else if !head.etag.contains("-"), try await Self.md5OffPool(path, 0, size) == head.etag.lowercased() {
                options.progress?(size, size)
                return S3UploadResult(bucket: bucket, key: key, size: size, uploaded: false, partsReused: 0, partCount: 0)
            }
        }
        let known: FileDigests
        if let digests { known = digests } else { known = try await Self.fileDigestsOffPool(path, size: size) }
        if !multipart {
            var r = request("PutObject", "PUT", bucket: bucket, key: key)
            r.body = size == 0 ? .bytes(Data()) : .file(path: path, offset: 0, length: size)
            r.unsignedPayload = options.unsignedPayload
            if let ct = options.contentType { r.headers.set("Content-Type", ct) }
            if let tags = options.tags, !tags.isEmpty { r.headers.set("x-amz-tagging", Self.taggingHeader(tags)) }
            let crc = Self.setChecksum(&r, crc32: known.crc32(offset: 0, length: size)!)
            let resp = try await client.send(r)
            try Self.check(crc, reported: resp.headers[ChecksumAlgorithm.crc32.headerName], operation: "PutObject", resp.status)
            options.progress?(size, size)
            return S3UploadResult(
                bucket: bucket, key: key, size: size, uploaded: true, partsReused: 0, partCount: 1, checksumCRC32: crc)
        }
        return try await multipartUpload(
            path, size: size, modified: modified, digests: known, bucket: bucket, key: key, options: options)
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
        _ path: String, size: UInt64, modified: Double, digests: FileDigests, bucket: String, key: String,
        options: S3TransferOptions
    ) async throws -> S3UploadResult {
        let requested = options.automaticPartSize ? Self.automaticPartSize(fileSize: size) : options.partSize
        let partSize = Self.effectivePartSize(fileSize: size, requested: max(requested, options.minimumPartSize))
        let partCount = Int((size + partSize - 1) / partSize)
        let statePath = options.stateDirectory.map { S3MultipartState.path(directory: $0, bucket: bucket, key: key) }
        var uploadId: String?
        // Every new upload sends CRC-32s; one resumed from a state written before sous did goes on without.
        var checksums = true
        var done: [Int: S3Part] = [:]
        if let statePath, let state = S3MultipartState.load(from: statePath) {
            if state.bucket == bucket, state.key == key, state.fileSize == size, state.partSize == partSize,
                abs(state.modified - modified) < 1e-6  // (seconds as a Double: rounding differs between sources)
            {
                do {
                    let listed = try await listParts(bucket: bucket, key: key, uploadId: state.uploadId)
                    uploadId = state.uploadId
                    checksums = state.checksumAlgorithm == ChecksumAlgorithm.crc32.rawValue
                    for p in listed where p.number >= 1 && p.number <= partCount {
                        let off = UInt64(p.number - 1) * partSize
                        let len = min(partSize, size - off)
                        guard p.size == len, try await Self.md5OffPool(path, off, len) == Self.unquote(p.etag).lowercased()
                        else { continue }
                        var part = p
                        if checksums { part.checksumCRC32 = try await Self.partCRC32(path, digests, off, len).base64String }
                        done[p.number] = part
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
            id = try await createMultipartUpload(
                bucket: bucket, key: key, contentType: options.contentType, metadata: ["sous-sha256": digests.sha256.hexString],
                tags: options.tags, checksum: .crc32)
            if let statePath {
                try S3MultipartState(
                    bucket: bucket, key: key, uploadId: id, fileSize: size, partSize: partSize, modified: modified,
                    checksumAlgorithm: ChecksumAlgorithm.crc32.rawValue
                ).save(to: statePath)
            }
        }
        let todo = (1...partCount).filter { done[$0] == nil }
        let withChecksums = checksums
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
                        let crc = withChecksums ? try await Self.partCRC32(path, digests, off, len) : nil
                        return try await self.uploadPart(
                            bucket: bucket, key: key, uploadId: id, partNumber: n, body: .file(path: path, offset: off, length: len),
                            crc32: crc, unsignedPayload: options.unsignedPayload)
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
        } catch {
            // A failure after the retries, or an interrupted run: the parts sent stay, and so does the state
            // file, so the next run sends only the rest. Without a state file nothing could resume it: abort.
            if statePath == nil { try? await abortMultipartUpload(bucket: bucket, key: key, uploadId: id) }
            throw error
        }
        // Once S3 has the object, an error (such as a checksum it reports wrong) leaves no upload to abort.
        let crc = withChecksums ? digests.crc32(offset: 0, length: size) : nil
        try await completeMultipartUpload(bucket: bucket, key: key, uploadId: id, parts: Array(done.values), crc32: crc)
        if let statePath { try? FileManager.default.removeItem(atPath: statePath) }
        return S3UploadResult(
            bucket: bucket, key: key, size: size, uploaded: true, partsReused: reused, partCount: partCount,
            checksumCRC32: crc?.base64String)
    }

    /// A part's CRC-32: combined from the file's MiB CRCs (no read) when the part is MiB-aligned, else read.
    static func partCRC32(_ path: String, _ digests: FileDigests, _ offset: UInt64, _ length: UInt64) async throws -> [UInt8] {
        if let crc = digests.crc32(offset: offset, length: length) { return crc }
        return try await offPool {
            var c = Checksum(.crc32)
            do {
                try forEachChunk(ofFile: path, offset: offset, length: length) { c.update($0) }
            } catch let e as FileReadError {
                throw AWSConfigError(e.description)
            }
            return c.digest()
        }
    }

    /// The file's digests (SHA-256 and MiB CRC-32s) from one read, shared through `FileDigestCache` (the
    /// step's fingerprint usually read it already), on a thread of its own.
    /// - Throws: `AWSConfigError` when the file cannot be read or is no longer `size` bytes long.
    static func fileDigestsOffPool(_ path: String, size: UInt64) async throws -> FileDigests {
        try await offPool {
            do {
                guard let d = try FileDigestCache.digests(ofFile: path, ifSize: size) else {
                    throw AWSConfigError("\(path) changed while it was being uploaded (it is no longer \(size) bytes); rerun.")
                }
                return d
            } catch let e as FileReadError {
                throw AWSConfigError(e.description)
            }
        }
    }

    /// `work` on a thread of its own: hashing a large file takes a while, and doing it on the Swift concurrency
    /// pool (as wide as the core count; on Linux it shares Dispatch's global queue threads too) would hold up
    /// the transfers that share the pool meanwhile.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            Thread.detachNewThread { c.resume(with: Result { try work() }) }
        }
    }

    /// Hex MD5 of a file region (an ETag to compare with), on a thread of its own (`offPool`).
    static func md5OffPool(_ path: String, _ offset: UInt64, _ length: UInt64) async throws -> String {
        try await offPool {
            do {
                return try md5OfFile(atPath: path, offset: offset, length: length).hexString
            } catch let e as FileReadError {
                throw AWSConfigError(e.description)
            }
        }
    }
}
