import Foundation

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
