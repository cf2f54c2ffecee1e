import Foundation
import SousBasics
import SousCrypto
import SousHTTP

extension HubClient {
    struct DownloadContext: Sendable {
        let req: HubSnapshotRequest
        let cache: HubCache
        let commit: String
        let meter: ProgressMeter
    }

    struct FileMetadata: Sendable {
        var etag: String
        var size: UInt64?
        var downloadURL: URL
        /// Set for a regular (non-LFS) file whose git blob id is known: the content is verified against it.
        var gitBlobID: String? = nil
    }

    func fetchFile(_ file: String, entry: HubCache.TreeEntry?, _ c: DownloadContext) async throws {
        let pointer = c.cache.pointer(c.commit, file)
        if FileManager.default.fileExists(atPath: pointer) {
            c.meter.fileDone(alreadyHad: entry?.size ?? Self.fileSize(pointer) ?? 0)
            return
        }
        var attempt = 0
        while true {
            do {
                let meta: FileMetadata
                if let entry, entry.lfsSHA256 == nil, HubCache.isCommitHash(entry.blobID), let url = resolveURL(file, c) {
                    // A regular git file: its blob id (the ETag the Hub would answer) and size are in the listing,
                    // so no HEAD is needed; the content is checked against the git blob sha1.
                    meta = FileMetadata(etag: entry.blobID, size: entry.size, downloadURL: url, gitBlobID: entry.blobID)
                } else {
                    meta = try await metadata(file, c)
                }
                try await fetchBlob(file, meta, c)
                do {
                    try c.cache.link(commit: c.commit, file: file, etag: meta.etag)
                } catch let e as HubError { throw e } catch {
                    throw Self.ioError(error, repoID: c.req.repoID, subject: pointer)
                }
                c.meter.fileDownloaded(file, size: Self.fileSize(c.cache.blob(meta.etag)) ?? meta.size ?? 0)
                return
            } catch let error as HubError where error.isRetryable && attempt < c.req.maxRetries {
                attempt += 1
                try await Task.sleep(for: Self.backoff(attempt: attempt, retryAfter: nil))
            }
        }
    }

    /// `<endpoint>/<prefix><repo>/resolve/<commit>/<file>`.
    private func resolveURL(_ file: String, _ c: DownloadContext) -> URL? {
        URL(string: "\(endpoint.absoluteString)/\(c.req.repoType.resolvePrefix)\(c.req.repoID)/resolve/"
            + "\(Self.quote(c.commit, safe: ""))/\(Self.quote(file, safe: "/"))")
    }

    /// HEAD on the resolve URL (huggingface_hub's `get_hf_file_metadata`).
    private func metadata(_ file: String, _ c: DownloadContext) async throws -> FileMetadata {
        let repoID = c.req.repoID
        guard var url = resolveURL(file, c) else { throw HubError(.unsafePath, repoID: repoID, subject: file) }
        for _ in 0..<6 {
            var request = HTTPRequest(method: "HEAD", url: url)
            request.headers.set("Accept-Encoding", "identity")
            request.timeouts.lowSpeedTime = .seconds(30)
            if let token = c.req.token, isHubHost(url) { request.headers.set("Authorization", "Bearer \(token)") }
            let r = try await send(request, repoID: repoID, subject: file)
            let h = r.headers
            var isRedirect = false
            if (300..<400).contains(r.status), let location = h["Location"],
                let next = URL(string: location, relativeTo: url)?.absoluteURL
            {
                if isHubHost(next) {
                    url = next
                    continue
                }
                isRedirect = true
                url = next
            } else if !(200..<300).contains(r.status) {
                markMissing(h, file, c)
                throw Self.statusError(
                    r.status, h, r.body, repoID: repoID, revision: c.commit, file: file, token: c.req.token,
                    repoURL: repoURL(repoID), isAPI: false)
            }
            guard h["X-Repo-Commit"] != nil else {
                throw HubError(.notAHubEndpoint, repoID: repoID, subject: file, detail: "no X-Repo-Commit header on \(HTTPError.redactedURL(url))")
            }
            guard let raw = h["X-Linked-Etag"] ?? h["ETag"] else {
                throw HubError(.notAHubEndpoint, repoID: repoID, subject: file, detail: "no ETag for \(file)")
            }
            var etag = raw.trimmingCharacters(in: .whitespaces)
            if etag.hasPrefix("W/") { etag.removeFirst(2) }
            etag = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            guard HubCache.isSafeRelativePath(etag), !etag.contains("/") else {
                throw HubError(.notAHubEndpoint, repoID: repoID, subject: file, detail: "unusable ETag")
            }
            let sizeText = h["X-Linked-Size"] ?? (isRedirect ? nil : h["Content-Length"])
            return FileMetadata(etag: etag, size: sizeText.flatMap { UInt64($0) }, downloadURL: url)
        }
        throw HubError(.server, repoID: repoID, subject: file, detail: "too many redirects")
    }

    /// huggingface_hub's `.no_exist/<commit>/<file>` marker when the Hub says the file does not exist.
    private func markMissing(_ h: HTTPHeaders, _ file: String, _ c: DownloadContext) {
        guard h["X-Error-Code"] == "EntryNotFound", let commit = h["X-Repo-Commit"], HubCache.isCommitHash(commit),
            HubCache.isSafeRelativePath(file)
        else { return }
        let marker = c.cache.noExist(commit, file)
        try? HubCache.makeDirectory((marker as NSString).deletingLastPathComponent)
        _ = FileManager.default.createFile(atPath: marker, contents: Data())
    }

    /// Downloads `blobs/<etag>` (resuming `blobs/<etag>.incomplete`), verified before it enters the cache.
    private func fetchBlob(_ file: String, _ meta: FileMetadata, _ c: DownloadContext) async throws {
        try await c.cache.addBlob(meta.etag) { partial in try await download(file, meta, into: partial, c) }
    }

    /// Fills (or resumes) `partial` with the file's bytes and verifies them (see `fetchBlob`).
    private func download(_ file: String, _ meta: FileMetadata, into partial: String, _ c: DownloadContext) async throws {
        let repoID = c.req.repoID
        let blob = c.cache.blob(meta.etag)
        var have = Self.fileSize(partial) ?? 0
        if let expected = meta.size, have > expected {
            unlink(partial)
            have = 0
        }
        let check = Self.contentCheck(meta)
        var hasher = check?.makeHasher()
        if have > 0, var h = hasher {
            // The bytes already on disk go into the hash first (pread in 1 MiB blocks).
            do {
                try forEachChunk(ofFile: partial, length: have) { h.update($0) }
            } catch {
                throw HubError(.io, repoID: repoID, subject: partial, detail: "cannot read the partial file")
            }
            hasher = h
        }
        c.meter.resuming(file, from: have)

        if meta.size == nil || have < meta.size! {
            var request = HTTPRequest(url: meta.downloadURL)
            request.followRedirects = true
            request.timeouts.lowSpeedTime = .seconds(30)
            if let token = c.req.token, isHubHost(meta.downloadURL) { request.headers.set("Authorization", "Bearer \(token)") }
            if have > 0 { request.headers.set("Range", "bytes=\(have)-") }
            let response: HTTPStreamingResponse
            do { response = try await http.stream(request) } catch { throw Self.networkError(error, repoID: repoID, file: file) }
            var truncate = false
            switch response.head.status {
            case 206:
                let start = response.head.headers["Content-Range"]
                    .flatMap { $0.split(separator: " ").last?.split(separator: "-").first }.flatMap { UInt64($0) }
                if start != have {
                    response.body.cancel()
                    unlink(partial)
                    throw HubError(.network, repoID: repoID, subject: file, detail: "the server resumed at the wrong offset")
                }
            case 200:
                if have > 0 {  // the server ignored Range: start over
                    truncate = true
                    have = 0
                    hasher = check?.makeHasher()
                    c.meter.restarted(file)
                }
            case 416:
                response.body.cancel()
                unlink(partial)
                throw HubError(.network, repoID: repoID, subject: file, detail: "HTTP 416 on resume")
            default:
                let body = (try? await response.body.collect(upTo: 4096)) ?? Data()
                markMissing(response.head.headers, file, c)
                throw Self.statusError(
                    response.head.status, response.head.headers, body, repoID: repoID, revision: c.commit, file: file,
                    token: c.req.token, repoURL: repoURL(repoID), isAPI: false)
            }
            // Large blobs are written around the page cache (O_DIRECT, see SousBasics' DirectIO.swift): their
            // bytes reach the disk while the download runs, so the fsync that publishes them is short.
            let flags = O_RDWR | O_CREAT | (truncate ? O_TRUNC : 0)
            let large = (meta.size ?? UInt64(AlignedChunk.size)) >= UInt64(AlignedChunk.size)
            let fd = large ? DirectWriter.open(partial, flags: flags) : open(partial, flags | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                response.body.cancel()
                throw Self.posixError(errno, repoID: repoID, subject: partial)
            }
            defer { close(fd) }
            // Hashed from libcurl's buffer on its thread, gathered in aligned chunks that writer threads write.
            let writer: BlobWriter
            do { writer = try BlobWriter(hasher, fd: fd, path: partial, at: have) } catch {
                response.body.cancel()
                throw HubError(.io, repoID: repoID, subject: partial, detail: "cannot read the partial file")
            }
            var failure: (any Error)?
            do {
                try await response.body.deliver { bytes in
                    if let err = writer.write(bytes) { throw Self.posixError(err, repoID: repoID, subject: blob) }
                    c.meter.add(UInt64(bytes.count), to: file)
                }
            } catch {
                failure = error
            }
            // Whatever happened, every byte that arrived is written (a rerun resumes after it) before the
            // descriptor closes.
            let written = writer.finish()
            if let error = failure as? HubError { throw error }
            if let failure { throw Self.networkError(failure, repoID: repoID, file: file) }
            if let written { throw Self.posixError(written, repoID: repoID, subject: blob) }
            hasher = writer.hasher
        }

        let size = Self.fileSize(partial) ?? 0
        if let expected = meta.size, size != expected {
            if size > expected { unlink(partial) }
            throw HubError(
                size < expected ? .network : .integrity, repoID: repoID, subject: file,
                detail: "got \(size) of \(expected) bytes")
        }
        if let check, let hasher {
            let digest = hasher.finalize().hexString
            if digest != check.expected {
                unlink(partial)
                throw HubError(
                    .integrity, repoID: repoID, subject: file, detail: "\(check.name) \(digest) instead of \(check.expected)")
            }
        }
    }

    /// How a blob's content is verified: sha256 = the LFS etag, or the git blob sha1 of a regular file.
    struct ContentCheck {
        var name: String
        var expected: String
        /// For git blob ids: the `blob <size>\0` header hashed before the content.
        var gitSize: UInt64?

        func makeHasher() -> SHA256Hasher {
            guard let gitSize else { return SHA256Hasher() }
            var h = SHA256Hasher(algorithm: .sha1)
            h.update(Data("blob \(gitSize)\u{0}".utf8))
            return h
        }
    }

    static func contentCheck(_ meta: FileMetadata) -> ContentCheck? {
        if HubCache.isSHA256(meta.etag) { return ContentCheck(name: "sha256", expected: meta.etag) }
        if let git = meta.gitBlobID, HubCache.isCommitHash(git), let size = meta.size {
            return ContentCheck(name: "git blob sha1", expected: git, gitSize: size)
        }
        return nil
    }

    static func fileSize(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_size)
    }
}

/// The body sink of one blob download: hashes each chunk and hands it to a `DirectFile` that writes it to
/// the `.incomplete` file from `offset` on. `@unchecked Sendable`: the sink runs on the transfer's thread, one
/// chunk after another, and `lock` keeps it out once the download has finished the file — a cancelled
/// transfer's thread may still be in the sink when `deliver` returns, and must not write to the descriptor
/// after it is closed.
final class BlobWriter: @unchecked Sendable {
    private(set) var hasher: SHA256Hasher?
    private let file: DirectFile
    private let lock = NSLock()
    private var finished = false

    init(_ hasher: SHA256Hasher?, fd: Int32, path: String, at offset: UInt64) throws {
        self.hasher = hasher
        file = try DirectFile(fd: fd, path: path, offset: Int(offset))
    }

    /// Hashes and appends `bytes`; returns the `errno` of a failed write (ECANCELED once finished).
    func write(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if finished { return ECANCELED }
        hasher?.update(bytes)
        return file.write(bytes)
    }

    /// Writes the rest and sets the file's length; nothing is written after it. Returns the `errno` of a
    /// failed write.
    func finish() -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        finished = true
        return file.finish()
    }
}
