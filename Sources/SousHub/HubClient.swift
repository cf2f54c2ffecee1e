public import Foundation
public import SousHTTP

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
            info = try await repoInfo(
                repoID: req.repoID, type: req.repoType, revision: req.revision, token: req.token, blobs: true,
                maxRetries: req.maxRetries)
        } catch var error as HubError where error.kind == .unreachable || (error.kind == .server && error.isRetryable) {
            // Like huggingface_hub: without a network (or with a Hub that keeps failing), a complete cached
            // snapshot still answers.
            let reason = error.kind == .unreachable ? "the Hub could not be reached" : "the Hub failed"
            guard var snap = try? offlineSnapshot(req, cache, reason: reason) else {
                error.cacheDir = req.cacheDir
                throw error
            }
            let what = error.kind == .unreachable ? "could not be reached" : "failed"
            snap.warnings.append("The Hub \(what) (\(error.detail)); using the cached snapshot \(snap.commit).")
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
            // Only safe names get an entry (see `repoInfo`): the listing is cached when every one of them has one.
            for f in info.files { if let e = f.entry { tree[f.path] = e } }
            if tree.count == info.files.filter({ HubCache.isSafeRelativePath($0.path) }).count {
                try cache.writeTreeCache(commit, tree)
            }
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
        let tree = cache.readTreeCache(commit)
        if let tree {
            files = HubPattern.filter(Array(tree.keys), allow: req.allowPatterns, ignore: req.ignorePatterns).sorted()
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
        // The cache may have been written by another program, or tampered with: its names are checked again.
        if let bad = files.first(where: { !HubCache.isSafeRelativePath($0) }) {
            throw HubError(.unsafePath, repoID: req.repoID, subject: bad)
        }
        if tree != nil {
            let missing = files.filter { !FileManager.default.fileExists(atPath: cache.pointer(commit, $0)) }
            if !missing.isEmpty {
                throw HubError(
                    .notCached, repoID: req.repoID, subject: req.revision,
                    detail: "\(reason); \(missing.count) file(s) missing, e.g. \(missing[0])", cacheDir: req.cacheDir)
            }
        }
        let total = files.reduce(UInt64(0)) { $0 + (Self.fileSize(cache.pointer(commit, $1)) ?? 0) }
        var path = dir
        if let local = req.localDir {
            try copyOut(files, from: cache, commit: commit, to: local, repoID: req.repoID)
            path = local
        }
        return HubSnapshot(path: path, commit: commit, files: files, totalBytes: total, downloadedBytes: 0, warnings: [])
    }

    /// Copies the snapshot's files (not the symlinks) into `localDir`, confined by real path: a folder on the
    /// way that is (or leads through) a symbolic link out of `localDir` is refused, never written through.
    func copyOut(_ files: [String], from cache: HubCache, commit: String, to localDir: String, repoID: String) throws {
        for file in files {
            guard HubCache.isSafeRelativePath(file) else { throw HubError(.unsafePath, repoID: repoID, subject: file) }
            let src = URL(fileURLWithPath: cache.pointer(commit, file)).resolvingSymlinksInPath().path
            let dst: String
            do {
                dst = try HubCache.confinedDestination(file, in: localDir, repoID: repoID)
                // A file or link already there is replaced (a link itself, never what it points to).
                var st = stat()
                if lstat(dst, &st) == 0 { try FileManager.default.removeItem(atPath: dst) }
                try FileManager.default.copyItem(atPath: src, toPath: dst)
            } catch {
                throw Self.ioError(error, repoID: repoID, subject: localDir + "/" + file)
            }
        }
    }

    // MARK: Helpers

    func repoURL(_ repoID: String) -> String { "\(endpoint.absoluteString)/\(repoID)" }

    /// Same scheme, host and port as the endpoint: the only place the token goes.
    func isHubHost(_ url: URL) -> Bool {
        func origin(_ u: URL) -> String {
            let scheme = (u.scheme ?? "").lowercased()
            return "\(scheme)://\((u.host ?? "").lowercased()):\(u.port ?? (scheme == "https" ? 443 : 80))"
        }
        return origin(url) == origin(endpoint)
    }

    func send(_ request: HTTPRequest, repoID: String, subject: String) async throws -> HTTPResponse {
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
}
