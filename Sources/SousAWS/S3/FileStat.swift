import Foundation

/// A file's size and modification time from `stat(2)` (symbolic links followed). FileManager's
/// `attributesOfItem` also looks up the owner's and group's names, reading /etc/passwd and /etc/group for
/// every file: hundreds of reads before a folder upload could start.
public struct FileStat: Sendable {
    public var size: UInt64
    /// Seconds since 1970, with the nanoseconds.
    public var modified: Double

    public init?(_ path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        size = UInt64(max(0, st.st_size))
        modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }
}
