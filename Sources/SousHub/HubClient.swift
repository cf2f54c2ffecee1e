public import Foundation
public import SousHTTP
import SousCrypto
import Synchronization

/// What to download: huggingface_hub's `snapshot_download` arguments.
public struct HubSnapshotRequest: Sendable, CustomStringConvertible, CustomReflectable {
    public var repoID: String
    public var repoType: HubRepoType
    /// Branch, tag or commit sha (resolved to the commit sha).
    public var revision: String
    /// fnmatch patterns (`*` crosses `/`; a trailing `/` means the whole folder); nil = everything.
    public var allowPatterns: [String]?
    public var ignorePatterns: [String]?
    /// Sent as `Authorization: Bearer …` to the Hub host only. Never printed (see `description`) or stored.
    public var token: String?
    /// The huggingface_hub cache (`HF_HUB_CACHE`).
    public var cacheDir: String
    /// When set, the files are also copied out of the cache into this folder, which becomes `HubSnapshot.path`.
    public var localDir: String?
    /// Parallel file downloads.
    public var maxWorkers: Int
    /// Use the cache only (`HF_HUB_OFFLINE`).
    public var offline: Bool
    /// Retries per file after a transient failure or a checksum mismatch (each resumes the partial file).
    public var maxRetries: Int

    public init(
        repoID: String, repoType: HubRepoType = .model, revision: String = "main", allowPatterns: [String]? = nil,
        ignorePatterns: [String]? = nil, token: String? = HubEnvironment.token(),
        cacheDir: String = HubEnvironment.cacheDir(), localDir: String? = nil, maxWorkers: Int = 8,
        offline: Bool = HubEnvironment.isOffline(), maxRetries: Int = 4
    ) {
        self.repoID = repoID
        self.repoType = repoType
        self.revision = revision
        self.allowPatterns = allowPatterns
        self.ignorePatterns = ignorePatterns
        self.token = token
        self.cacheDir = cacheDir
        self.localDir = localDir
        self.maxWorkers = maxWorkers
        self.offline = offline
        self.maxRetries = maxRetries
    }

    /// A summary without the token.
    public var description: String {
        "HubSnapshotRequest(\(repoID)@\(revision), allow: \(allowPatterns ?? []), ignore: \(ignorePatterns ?? []), "
            + "token: \(token == nil ? "none" : "<redacted>"), cache: \(cacheDir), offline: \(offline))"
    }

    /// Reflection (`dump`, `print` of containers) shows no token either.
    public var customMirror: Mirror {
        Mirror(self, children: ["repoID": repoID, "revision": revision, "cacheDir": cacheDir,
                                "token": token == nil ? "none" : "<redacted>"])
    }
}

/// A snapshot in the cache (or in `localDir`).
public struct HubSnapshot: Sendable {
    /// `…/snapshots/<commit>` (or the local dir).
    public var path: String
    public var commit: String
    /// Repo-relative paths of the selected files, sorted.
    public var files: [String]
    /// Sum of the selected files' sizes.
    public var totalBytes: UInt64
    /// Bytes fetched over the network by this call (0 when everything was cached).
    public var downloadedBytes: UInt64
    public var warnings: [String]
    /// The folder the files were taken from, when the repository id was a local folder; nil for the Hub.
    public var localFolder: String?

    public init(
        path: String, commit: String, files: [String], totalBytes: UInt64, downloadedBytes: UInt64, warnings: [String],
        localFolder: String? = nil
    ) {
        self.path = path
        self.commit = commit
        self.files = files
        self.totalBytes = totalBytes
        self.downloadedBytes = downloadedBytes
        self.warnings = warnings
        self.localFolder = localFolder
    }
}

/// Download progress, reported at most ~10 times a second and once at the end.
public struct HubProgress: Sendable {
    public var bytesDone: UInt64
    public var bytesTotal: UInt64
    public var bytesPerSecond: Double
    /// Estimated time left; nil until a rate is known.
    public var eta: Duration?
    public var filesDone: Int
    public var filesTotal: Int
}

/// A Hugging Face Hub client whose downloads share huggingface_hub's cache.
public final class HubClient: Sendable {
    public let endpoint: URL
    let http: HTTPClient

    /// - Parameter endpoint: `HF_ENDPOINT` by default (https://huggingface.co).
    public init(endpoint: URL = HubEnvironment.endpoint(), http: HTTPClient = .shared) {
        var s = endpoint.absoluteString
        while s.hasSuffix("/") { s.removeLast() }
        self.endpoint = URL(string: s) ?? endpoint
        self.http = http
    }

    // MARK: Public entry points

    /// The commit sha a branch, tag or sha designates.
    public func resolveCommit(repoID: String, revision: String, token: String?) async throws -> String {
        try Self.validate(repoID: repoID)
        return try await repoInfo(repoID: repoID, type: .model, revision: revision, token: token, blobs: false).commit
    }

    /// Downloads (or finds in the cache) the files of a repository at a revision, like
    /// huggingface_hub's `snapshot_download`, and returns where they are.
    ///
    /// A `repoID` that is a local folder (`/…`, `./…`, `../…`, `~/…`) is taken into the cache instead, without
    /// the Hub (see `takeLocalFolder`).
    /// - Throws: `HubError` with the sentence a user should read.
    public func snapshot(
        _ req: HubSnapshotRequest, progress: (@Sendable (HubProgress) -> Void)? = nil
    ) async throws -> HubSnapshot {
        if let folder = Self.localFolderPath(req.repoID) { return try await takeLocalFolder(folder, req, progress: progress) }
        try Self.validate(repoID: req.repoID)
        let cache = HubCache(root: req.cacheDir, repoID: req.repoID, type: req.repoType)
        if req.offline { return try offlineSnapshot(req, cache, reason: "HF_HUB_OFFLINE is set") }
        let info: RepoInfo
        do {
            info = try await repoInfo(repoID: req.repoID, type: req.repoType, revision: req.revision, token: req.token, blobs: true)
        } catch var error as HubError where error.kind == .unreachable {
            // Like huggingface_hub: without a network, a cached snapshot still answers.
            guard var snap = try? offlineSnapshot(req, cache, reason: "the Hub could not be reached") else {
                error.cacheDir = req.cacheDir
                throw error
            }
            snap.warnings.append("The Hub could not be reached (\(error.detail)); using the cached snapshot \(snap.commit).")
            return snap
        }
        let commit = info.commit
        var warnings: [String] = []
        let selected = HubPattern.filter(info.files.map(\.path), allow: req.allowPatterns, ignore: req.ignorePatterns).sorted()
        if let bad = selected.first(where: { !HubCache.isSafeRelativePath($0) }) {
            throw HubError(.unsafePath, repoID: req.repoID, subject: bad)
        }
        if selected.isEmpty && (req.allowPatterns != nil || req.ignorePatterns != nil) {
            warnings.append("No file of \(req.repoID) matched the allow/ignore patterns.")
        }
        if let w = Self.mixedWeightsWarning(selected) { warnings.append(w) }

        do {
            try cache.prepareStorage()
            if HubCache.isSafeRelativePath(req.revision) { try cache.writeRef(req.revision, commit: commit) }
            var tree: [String: HubCache.TreeEntry] = [:]
            for f in info.files { if let e = f.entry { tree[f.path] = e } }
            if tree.count == info.files.count { try cache.writeTreeCache(commit, tree) }
        } catch let error as HubError {
            throw error
        } catch {
            throw Self.ioError(error, repoID: req.repoID, subject: cache.storage)
        }

        let byPath = Dictionary(info.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let sizes = selected.map { byPath[$0]?.entry?.size ?? 0 }
        let meter = ProgressMeter(total: sizes.reduce(0, +), files: selected.count, callback: progress)
        let context = DownloadContext(req: req, cache: cache, commit: commit, meter: meter)
        // Largest files first: the big downloads overlap with each other and the small files fill the gaps,
        // instead of one big file starting last and running alone.
        let order = selected.indices.sorted { (sizes[$0], $1) > (sizes[$1], $0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func addNext() {
                guard next < order.count else { return }
                let file = selected[order[next]]
                let entry = byPath[file]?.entry
                next += 1
                group.addTask { try await self.fetchFile(file, entry: entry, context) }
            }
            for _ in 0..<max(1, req.maxWorkers) { addNext() }
            while try await group.next() != nil { addNext() }
        }
        meter.finish()

        var total: UInt64 = 0
        for file in selected { total += Self.fileSize(cache.pointer(commit, file)) ?? 0 }
        var path = cache.snapshotDir(commit)
        if let local = req.localDir {
            try copyOut(selected, from: cache, commit: commit, to: local, repoID: req.repoID)
            path = local
        }
        return HubSnapshot(
            path: path, commit: commit, files: selected, totalBytes: total, downloadedBytes: meter.downloaded,
            warnings: warnings)
    }

    // MARK: Listing

    struct RepoFile: Sendable {
        var path: String
        var entry: HubCache.TreeEntry?
    }

    struct RepoInfo: Sendable {
        var commit: String
        var files: [RepoFile]
    }

    func repoInfo(repoID: String, type: HubRepoType, revision: String, token: String?, blobs: Bool) async throws -> RepoInfo {
        var s = "\(endpoint.absoluteString)/api/\(type.apiSegment)/\(repoID)/revision/\(Self.quote(revision, safe: ""))"
        if blobs { s += "?blobs=true" }
        guard let url = URL(string: s) else { throw HubError(.invalidRepoID, repoID: repoID) }
        var request = HTTPRequest(url: url)
        request.timeouts.lowSpeedTime = .seconds(30)
        if let token { request.headers.set("Authorization", "Bearer \(token)") }
        let response: HTTPResponse
        do {
            response = try await send(request, repoID: repoID, subject: "")
        } catch let error as HubError where error.kind == .network {
            // The first request of every download and check: failing here means the Hub is out of reach.
            throw HubError(.unreachable, repoID: repoID, subject: endpoint.absoluteString, detail: error.detail)
        }
        guard (200..<300).contains(response.status) else {
            throw Self.statusError(
                response.status, response.headers, response.body, repoID: repoID, revision: revision, file: nil,
                token: token, repoURL: repoURL(repoID), isAPI: true)
        }
        guard let obj = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let sha = obj["sha"] as? String, HubCache.isCommitHash(sha)
        else {
            throw HubError(.notAHubEndpoint, repoID: repoID, detail: "the model info has no commit sha")
        }
        var files: [RepoFile] = []
        for sibling in obj["siblings"] as? [[String: Any]] ?? [] {
            guard let name = sibling["rfilename"] as? String else { continue }
            var entry: HubCache.TreeEntry?
            if let size = (sibling["size"] as? NSNumber)?.uint64Value, let blobID = sibling["blobId"] as? String {
                let lfs = sibling["lfs"] as? [String: Any]
                entry = HubCache.TreeEntry(
                    size: size, blobID: blobID, lfsSHA256: lfs?["sha256"] as? String,
                    lfsSize: (lfs?["size"] as? NSNumber)?.uint64Value)
            }
            files.append(RepoFile(path: name, entry: entry))
        }
        return RepoInfo(commit: sha, files: files)
    }

    // MARK: One file

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

    private func fetchFile(_ file: String, entry: HubCache.TreeEntry?, _ c: DownloadContext) async throws {
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
                c.meter.fileDone(alreadyHad: 0)
                return
            } catch let error as HubError where error.isRetryable && attempt < c.req.maxRetries {
                attempt += 1
                try await Task.sleep(for: .milliseconds(200 << min(attempt, 5)))  // retry backoff
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
        c.meter.resumed(have)

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
                    c.meter.restarted()
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
            let fd = open(partial, O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND), 0o644)
            guard fd >= 0 else {
                response.body.cancel()
                throw Self.posixError(errno, repoID: repoID, subject: partial)
            }
            defer { close(fd) }
            do {
                for try await chunk in response.body {
                    hasher?.update(chunk)
                    if let err = Self.writeAll(fd, chunk) {
                        response.body.cancel()
                        throw Self.posixError(err, repoID: repoID, subject: blob)
                    }
                    c.meter.add(UInt64(chunk.count))
                }
            } catch let error as HubError {
                throw error
            } catch {
                throw Self.networkError(error, repoID: repoID, file: file)
            }
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

    // MARK: Offline

    private func offlineSnapshot(_ req: HubSnapshotRequest, _ cache: HubCache, reason: String) throws -> HubSnapshot {
        let commit: String
        if HubCache.isCommitHash(req.revision) {
            commit = req.revision
        } else if HubCache.isSafeRelativePath(req.revision), let c = cache.readRef(req.revision), HubCache.isCommitHash(c) {
            commit = c
        } else {
            throw HubError(.notCached, repoID: req.repoID, subject: req.revision, detail: reason, cacheDir: req.cacheDir)
        }
        let dir = cache.snapshotDir(commit)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw HubError(.notCached, repoID: req.repoID, subject: req.revision, detail: reason, cacheDir: req.cacheDir)
        }
        var files: [String]
        if let tree = cache.readTreeCache(commit) {
            files = HubPattern.filter(Array(tree.keys), allow: req.allowPatterns, ignore: req.ignorePatterns).sorted()
            let missing = files.filter { !FileManager.default.fileExists(atPath: cache.pointer(commit, $0)) }
            if !missing.isEmpty {
                throw HubError(
                    .notCached, repoID: req.repoID, subject: req.revision,
                    detail: "\(reason); \(missing.count) file(s) missing, e.g. \(missing[0])", cacheDir: req.cacheDir)
            }
        } else {
            var found: [String] = []
            if let walker = FileManager.default.enumerator(atPath: dir) {
                for case let rel as String in walker {
                    var d: ObjCBool = false
                    if FileManager.default.fileExists(atPath: dir + "/" + rel, isDirectory: &d), !d.boolValue { found.append(rel) }
                }
            }
            files = HubPattern.filter(found, allow: req.allowPatterns, ignore: req.ignorePatterns).sorted()
        }
        let total = files.reduce(UInt64(0)) { $0 + (Self.fileSize(cache.pointer(commit, $1)) ?? 0) }
        var path = dir
        if let local = req.localDir {
            try copyOut(files, from: cache, commit: commit, to: local, repoID: req.repoID)
            path = local
        }
        return HubSnapshot(path: path, commit: commit, files: files, totalBytes: total, downloadedBytes: 0, warnings: [])
    }

    /// Copies the snapshot's files (not the symlinks) into `localDir`.
    func copyOut(_ files: [String], from cache: HubCache, commit: String, to localDir: String, repoID: String) throws {
        for file in files {
            let src = URL(fileURLWithPath: cache.pointer(commit, file)).resolvingSymlinksInPath().path
            let dst = localDir + "/" + file
            do {
                try HubCache.makeDirectory((dst as NSString).deletingLastPathComponent)
                if FileManager.default.fileExists(atPath: dst) || (try? FileManager.default.destinationOfSymbolicLink(atPath: dst)) != nil {
                    try FileManager.default.removeItem(atPath: dst)
                }
                try FileManager.default.copyItem(atPath: src, toPath: dst)
            } catch {
                throw Self.ioError(error, repoID: repoID, subject: dst)
            }
        }
    }

    // MARK: Helpers

    private func repoURL(_ repoID: String) -> String { "\(endpoint.absoluteString)/\(repoID)" }

    /// Same scheme, host and port as the endpoint: the only place the token goes.
    private func isHubHost(_ url: URL) -> Bool {
        func origin(_ u: URL) -> String {
            let scheme = (u.scheme ?? "").lowercased()
            return "\(scheme)://\((u.host ?? "").lowercased()):\(u.port ?? (scheme == "https" ? 443 : 80))"
        }
        return origin(url) == origin(endpoint)
    }

    private func send(_ request: HTTPRequest, repoID: String, subject: String) async throws -> HTTPResponse {
        do {
            return try await http.send(request)
        } catch {
            throw Self.networkError(error, repoID: repoID, file: subject)
        }
    }

    static func validate(repoID: String) throws {
        let parts = repoID.split(separator: "/", omittingEmptySubsequences: false)
        let ok = (1...2).contains(parts.count) && !repoID.contains("--") && !repoID.contains("..")
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 96 && !part.hasPrefix(".") && !part.hasPrefix("-")
                    && part.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "-_.".unicodeScalars.contains($0) }
            }
        if !ok { throw HubError(.invalidRepoID, repoID: repoID) }
    }

    static func mixedWeightsWarning(_ files: [String]) -> String? {
        let safetensors = files.filter { $0.hasSuffix(".safetensors") }
        let bins = files.filter { $0.hasSuffix(".bin") && !$0.hasSuffix("training_args.bin") }
        guard !safetensors.isEmpty, !bins.isEmpty else { return nil }
        return "The patterns select both *.safetensors (\(safetensors.count)) and *.bin (\(bins.count)) weights, "
            + "probably two copies of the same model; add ignore pattern \"*.bin\" (or allow only \"*.safetensors\") to download one."
    }

    /// Python's `urllib.parse.quote` (unreserved characters plus `safe` are kept).
    static func quote(_ s: String, safe: String) -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
        allowed.insert(charactersIn: safe)
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    static func fileSize(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_size)
    }

    static func writeAll(_ fd: Int32, _ data: Data) -> Int32? {
        data.withUnsafeBytes { raw -> Int32? in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress!.advanced(by: done), raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return nil
        }
    }

    static func statusError(
        _ status: Int, _ headers: HTTPHeaders, _ body: Data, repoID: String, revision: String, file: String?,
        token: String?, repoURL: String, isAPI: Bool
    ) -> HubError {
        let code = headers["X-Error-Code"] ?? ""
        var message = headers["X-Error-Message"]
            ?? String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if let token, !token.isEmpty { message = message.replacingOccurrences(of: token, with: "<redacted>") }
        let detail = "HTTP \(status)" + (message.isEmpty ? "" : ": \(message)")
        let sent = token != nil
        func make(_ kind: HubError.Kind, _ subject: String = file ?? "", retry: Bool? = nil) -> HubError {
            HubError(kind, repoID: repoID, subject: subject, detail: detail, repoURL: repoURL, tokenSent: sent, isRetryable: retry)
        }
        switch code {
        case "GatedRepo": return make(.gated)
        case "RepoNotFound": return make(.repoNotFound)
        case "RevisionNotFound": return make(.revisionNotFound, revision)
        case "EntryNotFound": return make(.entryNotFound)
        default: break
        }
        switch status {
        case 401:
            return message.contains("Invalid credentials") ? make(.invalidToken) : make(.repoNotFound)
        case 403:
            let lower = message.lowercased()
            return lower.contains("gated") || lower.contains("restricted") || lower.contains("authorized list")
                ? make(.gated) : make(.repoNotFound)
        case 404:
            return isAPI ? make(.repoNotFound) : make(.entryNotFound)
        case 429, 500...599:
            return make(.server, retry: true)
        default:
            return make(.server, retry: false)
        }
    }

    static func networkError(_ error: any Error, repoID: String, file: String) -> any Error {
        if let e = error as? HubError { return e }
        if let e = error as? HTTPError {
            if e.kind == .cancelled { return CancellationError() }
            if e.kind == .fileWrite { return HubError(.io, repoID: repoID, subject: file, detail: e.message) }
            return HubError(
                .network, repoID: repoID, subject: file, detail: "\(e.message) at \(e.url)",
                isRetryable: e.isTransient || e.kind == .couldNotResolve)
        }
        return error
    }

    static func posixError(_ code: Int32, repoID: String, subject: String) -> HubError {
        let text = String(cString: strerror(code))
        if code == ENOSPC || code == EDQUOT || code == EFBIG {
            return HubError(.diskFull, repoID: repoID, subject: subject, detail: text)
        }
        return HubError(.io, repoID: repoID, subject: subject, detail: text)
    }

    static func ioError(_ error: any Error, repoID: String, subject: String) -> HubError {
        if let e = error as? HubError { return e }
        if let p = error as? POSIXError { return posixError(p.code.rawValue, repoID: repoID, subject: subject) }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return posixError(Int32(underlying.code), repoID: repoID, subject: subject)
        }
        return HubError(.io, repoID: repoID, subject: subject, detail: ns.localizedDescription)
    }
}

extension HTTPError {
    /// `scheme://host:port/path` of a URL (no query string: pre-signed URLs carry credentials there).
    static func redactedURL(_ url: URL) -> String {
        var s = "\(url.scheme ?? "http")://\(url.host ?? "")"
        if let port = url.port { s += ":\(port)" }
        return s + url.path
    }
}

// MARK: - Progress

/// Aggregates bytes across parallel downloads and throttles the callback.
final class ProgressMeter: Sendable {
    private struct State {
        var done: UInt64 = 0
        var downloaded: UInt64 = 0
        var filesDone = 0
        var lastReport: ContinuousClock.Instant?
    }
    private let state = Mutex(State())
    private let total: UInt64
    private let files: Int
    private let start = ContinuousClock.now
    private let callback: (@Sendable (HubProgress) -> Void)?

    init(total: UInt64, files: Int, callback: (@Sendable (HubProgress) -> Void)?) {
        self.total = total
        self.files = files
        self.callback = callback
    }

    var downloaded: UInt64 { state.withLock { $0.downloaded } }

    func add(_ n: UInt64) { update(force: false) { $0.done += n; $0.downloaded += n } }
    func resumed(_ n: UInt64) { update(force: false) { $0.done += n } }
    func restarted() {}
    func fileDone(alreadyHad: UInt64) { update(force: false) { $0.done += alreadyHad; $0.filesDone += 1 } }
    func finish() { update(force: true) { _ in } }

    private func update(force: Bool, _ change: (inout State) -> Void) {
        let now = ContinuousClock.now
        let report: HubProgress? = state.withLock { s in
            change(&s)
            guard callback != nil else { return nil }
            if !force, let last = s.lastReport, now - last < .milliseconds(100) { return nil }
            s.lastReport = now
            let elapsed = (now - start) / .seconds(1)
            let rate = elapsed > 0 ? Double(s.downloaded) / elapsed : 0
            let left = total > s.done ? total - s.done : 0
            let eta: Duration? = rate > 0 ? .milliseconds(Int64(Double(left) / rate * 1000)) : nil
            return HubProgress(
                bytesDone: s.done, bytesTotal: max(total, s.done), bytesPerSecond: rate, eta: eta,
                filesDone: s.filesDone, filesTotal: files)
        }
        if let report { callback?(report) }
    }
}

// MARK: - Lock file

/// huggingface_hub's per-blob lock (`.locks/<repo folder>/<etag>.lock`, flock), shared across processes.
struct FileLock: Sendable {
    let fd: Int32

    static func acquire(_ path: String, repoID: String) async throws -> FileLock {
        do { try HubCache.makeDirectory((path as NSString).deletingLastPathComponent) } catch {
            throw HubClient.ioError(error, repoID: repoID, subject: path)
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HubClient.posixError(errno, repoID: repoID, subject: path) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EWOULDBLOCK && errno != EINTR {
                close(fd)
                throw HubClient.posixError(errno, repoID: repoID, subject: path)
            }
            do {
                try await Task.sleep(for: .milliseconds(50))  // poll: another download holds the lock
            } catch {
                close(fd)
                throw error
            }
        }
        return FileLock(fd: fd)
    }

    func release() {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
