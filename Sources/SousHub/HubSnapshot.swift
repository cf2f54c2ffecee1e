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
