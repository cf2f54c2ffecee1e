public import Foundation

extension HubClient {
    /// The absolute folder `repoID` names when it is a local path (`/…`, `./…`, `../…`, `~/…`, relative to the
    /// current directory), else nil (a Hub repository id).
    public static func localFolderPath(
        _ repoID: String, env: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        LocalFolder.path(of: repoID, env: env, currentDirectory: FileManager.default.currentDirectoryPath)
    }

    /// The commit a local folder `repoID` would be taken in at now (the digest of its manifest; the selected
    /// files are hashed), or nil when `req.repoID` is not a local folder. Nothing is written.
    /// - Throws: `HubError` when the folder or a selected file cannot be read or taken.
    public static func localFolderCommit(_ req: HubSnapshotRequest) throws -> String? {
        guard let path = localFolderPath(req.repoID) else { return nil }
        return try LocalFolder(path: path).manifest(allow: req.allowPatterns, ignore: req.ignorePatterns).commit
    }

    /// `snapshot` for a local folder: its files enter the cache as a download's would (see `LocalFolder`),
    /// without contacting the Hub (also with `HF_HUB_OFFLINE`).
    func takeLocalFolder(
        _ folderPath: String, _ req: HubSnapshotRequest, progress: (@Sendable (HubProgress) -> Void)?
    ) async throws -> HubSnapshot {
        let folder = try LocalFolder(path: folderPath)
        let manifest = try folder.manifest(allow: req.allowPatterns, ignore: req.ignorePatterns)
        let commit = manifest.commit
        if HubCache.isCommitHash(req.revision), req.revision != commit {
            throw HubError(.revisionNotFound, repoID: folder.path, subject: req.revision, detail: "the folder's files are commit \(commit) now")
        }
        let cache = HubCache(root: req.cacheDir, repoID: folder.cacheRepoID, type: req.repoType)
        try Self.validate(repoID: cache.repoID)
        let names = manifest.files.map(\.path).sorted()
        var warnings: [String] = []
        if names.isEmpty {
            warnings.append(
                req.allowPatterns != nil || req.ignorePatterns != nil
                    ? "No file of \(folder.path) matched the allow/ignore patterns."
                    : "The local folder \(folder.path) holds no files (dotfiles and dot-folders are skipped).")
        }
        if let w = Self.mixedWeightsWarning(names) { warnings.append(w) }

        let total = manifest.files.reduce(0) { $0 + $1.size }
        let meter = ProgressMeter(total: total, files: names.count, callback: progress)
        do {
            try cache.prepareStorage()
            for file in manifest.files {
                try await cache.addBlob(file.sha256, reuse: { folder.holds(file, $0) }) { partial in
                    try folder.place(file, at: partial)
                }
                try cache.link(commit: commit, file: file.path, etag: file.sha256)
                meter.fileDone(alreadyHad: file.size)
            }
            // The ref last: it names a snapshot only once all of its files are there.
            if HubCache.isSafeRelativePath(req.revision) { try cache.writeRef(req.revision, commit: commit) }
        } catch let error as CancellationError {
            throw error
        } catch {
            throw Self.ioError(error, repoID: cache.repoID, subject: cache.storage)
        }
        meter.finish()

        var path = cache.snapshotDir(commit)
        if let local = req.localDir {
            try copyOut(names, from: cache, commit: commit, to: local, repoID: cache.repoID)
            path = local
        }
        return HubSnapshot(
            path: path, commit: commit, files: names, totalBytes: total, downloadedBytes: 0, warnings: warnings,
            localFolder: folder.path)
    }
}
