public import Foundation
import SousBasics

/// Errors about the workspace's files (state, lock, ledger, records).
public struct WorkspaceError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Writes `data` to `path` atomically: temp file in the same folder, fsync, rename, fsync the folder.
/// With `durable: false` the fsyncs are skipped (still atomic: readers never see half a file).
public func writeAtomically(_ data: Data, to path: String, mode: mode_t = 0o644, durable: Bool = true) throws {
    let dir = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let tmp = dir + "/." + (path as NSString).lastPathComponent + ".tmp-\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)
    guard fd >= 0 else { throw WorkspaceError("cannot write \(path): \(String(cString: strerror(errno)))") }
    var ok = true
    data.withUnsafeBytes { p in
        var off = 0
        while off < p.count {
            let n = write(fd, p.baseAddress! + off, p.count - off)
            if n <= 0 {
                if errno == EINTR { continue }
                ok = false
                break
            }
            off += n
        }
    }
    let err = errno
    if ok && durable && fsync(fd) != 0 { ok = false }
    close(fd)
    guard ok else {
        unlink(tmp)
        throw WorkspaceError("cannot write \(path): \(String(cString: strerror(err)))")
    }
    guard rename(tmp, path) == 0 else {
        let e = errno
        unlink(tmp)
        throw WorkspaceError("cannot write \(path): \(String(cString: strerror(e)))")
    }
    let dfd = durable ? open(dir, O_RDONLY) : -1
    if dfd >= 0 {
        fsync(dfd)
        close(dfd)
    }
}

/// The folders of one recipe inside a workspace.
public struct WorkspaceLayout: Sendable {
    /// The workspace root (`./workspace`, `--workspace`, `SOUS_WORKSPACE`).
    public var root: String
    public var recipe: String

    public init(root: String, recipe: String) {
        self.root = (root as NSString).standardizingPath
        self.recipe = recipe
    }

    public var recipeDir: String { root + "/" + recipe }
    /// Where steps write files (`${{ workspace }}`).
    public var workDir: String { recipeDir + "/work" }
    public var statePath: String { recipeDir + "/state.json" }
    public var lockPath: String { recipeDir + "/lock" }
    public var ledgerPath: String { recipeDir + "/ledger.jsonl" }
    public var runsDir: String { recipeDir + "/runs" }
    /// The per-workspace key for keyed hashes of secrets.
    public var keyPath: String { root + "/.sous/key" }

    /// The approvals `sous run` remembers (``TrustStore``): one key per line.
    public var approvalsPath: String { root + "/.sous/trusted-commands" }

    /// Resolves a path a step writes: relative paths are under `workDir`, and the result must stay inside
    /// `workDir` — not merely inside the workspace, which also holds sous's approvals and key, other
    /// recipes' state and the local cloud's data.
    ///
    /// The check is made on the real path: `..` is folded, then the part of the path that exists is
    /// resolved through its symbolic links (`realpath`), so a link inside the work folder pointing out of
    /// it is refused too, as is a link that points nowhere (writing through it would create its target).
    /// - Returns: the absolute path, `..` and `.` folded as text (links not resolved, so outputs read as written).
    /// - Throws: ``StepError`` saying where the path leads.
    public func confinedPath(_ path: String) throws -> String {
        let candidate = path.hasPrefix("/") ? path : workDir + "/" + path
        let std = Self.folded(candidate)
        let work = Self.folded(workDir)
        guard std == work || std.hasPrefix(work + "/") else {
            throw StepError("path '\(path)' leaves the recipe's work folder (\(work)): a step may only write inside it")
        }
        guard let real = Self.realPath(std), let realWork = Self.realPath(work) else {
            throw StepError("path '\(path)' goes through a symbolic link that points nowhere; a step may only write inside the recipe's work folder (\(work))")
        }
        guard real == realWork || real.hasPrefix(realWork == "/" ? "/" : realWork + "/") else {
            throw StepError("path '\(path)' leads out of the recipe's work folder (\(work)) through a symbolic link (to \(real)): a step may only write inside it")
        }
        return std
    }

    /// `path` made absolute (against the current folder) with `.`, `..` and empty components folded away
    /// as text (symbolic links are left alone: the check on the real path follows them).
    static func folded(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var parts: [Substring] = []
        for c in absolute.split(separator: "/") {
            switch c {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(c)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `path` with the part that exists resolved through its symbolic links and the rest appended; nil when
    /// a component is a link that points nowhere (or cannot be resolved).
    static func realPath(_ path: String) -> String? {
        var existing = path
        var rest: [String] = []
        var st = stat()
        while lstat(existing, &st) != 0 {
            guard existing != "/", !existing.isEmpty else { break }
            rest.insert((existing as NSString).lastPathComponent, at: 0)
            existing = (existing as NSString).deletingLastPathComponent
        }
        guard let resolved = realpath(existing, nil) else { return nil }
        defer { free(resolved) }
        var out = String(cString: resolved)
        for r in rest { out += (out.hasSuffix("/") ? "" : "/") + r }
        return out
    }

    /// The secret-hashing key (32 random bytes in `keyPath`, 0600): the one way the engine reads it. With
    /// `create`, it is made when missing (or damaged); without (`sous plan`, which writes nothing), a missing
    /// key reads as empty, so nothing fingerprinted with it matches a recorded fingerprint.
    /// - Throws: ``WorkspaceError`` when a new key cannot be written.
    public func hashingKey(create: Bool) throws -> [UInt8] {
        if let d = FileManager.default.contents(atPath: keyPath), d.count == 32 { return Array(d) }
        guard create else { return [] }
        var bytes = [UInt8](repeating: 0, count: 32)
        var g = SystemRandomNumberGenerator()
        for i in 0..<32 { bytes[i] = UInt8.random(in: 0...255, using: &g) }
        try writeAtomically(Data(bytes), to: keyPath, mode: 0o600)
        return Array(FileManager.default.contents(atPath: keyPath) ?? Data(bytes))
    }
}

/// A recorded file or folder signature: stat data, and a content hash for files.
public struct FileSignature: Codable, Sendable, Equatable {
    public var size: UInt64
    public var mtimeNs: Int64
    /// For folders: the number of files and a digest over their (path, size, mtime).
    public var isDirectory: Bool
    public var fileCount: Int?
    public var sha256: String?

    public init(size: UInt64, mtimeNs: Int64, isDirectory: Bool, fileCount: Int? = nil, sha256: String? = nil) {
        self.size = size
        self.mtimeNs = mtimeNs
        self.isDirectory = isDirectory
        self.fileCount = fileCount
        self.sha256 = sha256
    }

    /// Stat-only signature of `path` (a folder is walked, file contents are not read).
    public static func capture(_ path: String) -> FileSignature? {
        guard let st = FileStatus(path) else { return nil }
        if st.isDirectory {
            // FNV-1a over (path, size, mtime) of every file: a folder's stat signature.
            var total: UInt64 = 0
            var count = 0
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            func mix(_ bytes: UnsafeRawBufferPointer) {
                for b in bytes {
                    h ^= UInt64(b)
                    h = h &* 0x100_0000_01b3
                }
            }
            for (rel, fst) in FileTree.regularFiles(under: path) {
                total += fst.size
                count += 1
                var r = rel
                r.withUTF8 { mix(UnsafeRawBufferPointer($0)) }
                var fields = (Int64(fst.size), fst.modifiedNs)
                withUnsafeBytes(of: &fields) { mix($0) }
            }
            return FileSignature(size: total, mtimeNs: Int64(h & 0x7fff_ffff_ffff_ffff), isDirectory: true, fileCount: count, sha256: nil)
        }
        return FileSignature(size: st.size, mtimeNs: st.modifiedNs, isDirectory: false, fileCount: nil, sha256: nil)
    }

    /// Whether stat data (not content) is unchanged.
    public func sameStat(as other: FileSignature) -> Bool {
        size == other.size && mtimeNs == other.mtimeNs && isDirectory == other.isDirectory && fileCount == other.fileCount
    }
}
