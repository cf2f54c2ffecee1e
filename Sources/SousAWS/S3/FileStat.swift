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

    /// The regular files under `root` (links followed), by relative path in sorted order, with their sizes.
    ///
    /// `opendir`/`readdir`/`fstatat` directly: FileManager's enumerator is several times slower on Linux, and
    /// its attributes read /etc/passwd and /etc/group for every file. The same walk as SousEngine's
    /// `FileSignature.walk` (which this module cannot import), so a folder's fingerprint and its upload see the
    /// same files.
    static func regularFiles(under root: String) -> [(path: String, size: UInt64)] {
        var out: [(path: String, size: UInt64)] = []
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
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    visit(dir + "/" + name, r, depth: depth + 1)
                } else if (st.st_mode & S_IFMT) == S_IFREG {
                    out.append((r, UInt64(max(0, st.st_size))))
                }
            }
        }
        visit(root, "", depth: 0)
        return out
    }
}
