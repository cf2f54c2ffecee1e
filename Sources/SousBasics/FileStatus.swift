#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `stat(2)` says about a path: the one wrapper sous uses (FileManager's attributes also look up the
/// owner's and group's names, reading /etc/passwd and /etc/group for every file).
public struct FileStatus: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case file, directory, symbolicLink, other }

    public var kind: Kind
    public var size: UInt64
    /// Modification time in nanoseconds since 1970.
    public var modifiedNs: Int64
    /// Permission bits (`st_mode & 0o7777`).
    public var permissions: UInt32

    /// Seconds since 1970, with the nanoseconds.
    public var modified: Double { Double(modifiedNs) / 1e9 }
    public var isFile: Bool { kind == .file }
    public var isDirectory: Bool { kind == .directory }

    /// The status of `path`, through symbolic links unless `followLinks` is false; nil when it does not exist
    /// or cannot be read (and, following links, when a link points nowhere).
    public init?(_ path: String, followLinks: Bool = true) {
        var st = stat()
        guard (followLinks ? stat(path, &st) : lstat(path, &st)) == 0 else { return nil }
        self.init(st)
    }

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        default: kind = .other
        }
        size = UInt64(max(0, st.st_size))
        #if canImport(Darwin)
        modifiedNs = Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        #else
        modifiedNs = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        #endif
        permissions = UInt32(st.st_mode) & 0o7777
    }
}

/// Walks of a folder.
public enum FileTree {
    /// The regular files under `root` (symbolic links followed, at most 64 folders deep), by relative path in
    /// sorted order. A folder's fingerprint, its upload and its tar all list files through this one walk, so
    /// they see the same files.
    ///
    /// `opendir`/`readdir`/`fstatat` directly: FileManager's enumerator is several times slower on Linux.
    public static func regularFiles(under root: String) -> [(path: String, status: FileStatus)] {
        var out: [(path: String, status: FileStatus)] = []
        func visit(_ dir: String, _ rel: String, depth: Int) {
            guard depth < 64, let d = opendir(dir) else { return }
            defer { closedir(d) }
            let dfd = dirfd(d)
            var names: [String] = []
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                    String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                }
                if name == "." || name == ".." { continue }
                names.append(name)
            }
            for name in names.sorted() {
                var st = stat()
                guard fstatat(dfd, name, &st, 0) == 0 else { continue }
                let r = rel.isEmpty ? name : rel + "/" + name
                let status = FileStatus(st)
                switch status.kind {
                case .directory: visit(dir + "/" + name, r, depth: depth + 1)
                case .file: out.append((r, status))
                default: continue
                }
            }
        }
        visit(root, "", depth: 0)
        return out
    }
}

/// Writes all of `buffer` to `fd`, retrying short writes and `EINTR`; returns nil, or the `errno` of the
/// write that failed.
public func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Int32? {
    guard let base = buffer.baseAddress else { return nil }
    var done = 0
    while done < buffer.count {
        let n = write(fd, base + done, buffer.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        done += n
    }
    return nil
}
