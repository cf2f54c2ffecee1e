import Foundation
import SousBasics

/// huggingface_hub's cache layout for one repository:
/// `<root>/<type>s--org--name/{blobs/<etag>, snapshots/<commit>/<path>, refs/<revision>, trees/<commit>.json,
/// .no_exist/<commit>/<path>}` plus `<root>/.locks/<type>s--org--name/<etag>.lock` and `<root>/CACHEDIR.TAG`.
struct HubCache {
    let root: String
    let repoID: String
    let type: HubRepoType

    var folderName: String { ([type.apiSegment] + repoID.split(separator: "/").map(String.init)).joined(separator: "--") }
    var storage: String { root + "/" + folderName }
    var blobsDir: String { storage + "/blobs" }
    func blob(_ etag: String) -> String { blobsDir + "/" + etag }
    func incomplete(_ etag: String) -> String { blob(etag) + ".incomplete" }
    func snapshotDir(_ commit: String) -> String { storage + "/snapshots/" + commit }
    func pointer(_ commit: String, _ file: String) -> String { snapshotDir(commit) + "/" + file }
    func ref(_ revision: String) -> String { storage + "/refs/" + revision }
    func treeCache(_ commit: String) -> String { storage + "/trees/" + commit + ".json" }
    func lock(_ etag: String) -> String { root + "/.locks/" + folderName + "/" + etag + ".lock" }
    func noExist(_ commit: String, _ file: String) -> String { storage + "/.no_exist/" + commit + "/" + file }

    /// The relative symlink target from `snapshots/<commit>/<file>` to `blobs/<etag>` (huggingface_hub's).
    static func relativeBlobTarget(file: String, etag: String) -> String {
        let depth = file.split(separator: "/", omittingEmptySubsequences: false).count + 1
        return String(repeating: "../", count: depth) + "blobs/" + etag
    }

    /// A repo file name is safe when relative, without empty, `.` or `..` components, NUL or backslash.
    static func isSafeRelativePath(_ name: String) -> Bool {
        if name.isEmpty || name.hasPrefix("/") || name.contains("\\") || name.contains("\u{0}") { return false }
        return !name.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty || $0 == "." || $0 == ".." }
    }

    static func isCommitHash(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func isSHA256(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    // MARK: File operations

    static func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `text` to `path` atomically and durably (see `DurableFile.write`).
    static func writeAtomically(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).withUnsafeBytes { try DurableFile.write($0, to: path) }
        } catch let e as FileWriteError {
            throw POSIXError(POSIXErrorCode(rawValue: e.code) ?? .EIO)
        }
    }

    /// `root/<file>` with the folders on the way created, confined to `root` by real path: each existing
    /// folder on the way (a symbolic link resolved) must be inside `root`'s real path, and a folder is created
    /// only inside a folder that was checked. `file` must be a safe relative path.
    /// - Throws: `HubError.unsafePath` (subject `file`) for a link leading out of `root`; file errors otherwise.
    static func confinedDestination(_ file: String, in root: String, repoID: String) throws -> String {
        try makeDirectory(root)
        guard let base = realPath(root) else { throw HubError(.io, repoID: repoID, subject: root, detail: "cannot resolve the folder") }
        var current = root
        for part in file.split(separator: "/").dropLast() {
            current += "/" + part
            var st = stat()
            if lstat(current, &st) != 0 {
                guard mkdir(current, 0o755) == 0 || errno == EEXIST else { throw HubClient.posixError(errno, repoID: repoID, subject: current) }
            }
            guard let real = realPath(current), real.hasPrefix(base == "/" ? "/" : base + "/") else {
                throw HubError(.unsafePath, repoID: repoID, subject: file, detail: "'\(current)' leads out of \(root)")
            }
            var dir = stat()
            guard stat(real, &dir) == 0, (dir.st_mode & S_IFMT) == S_IFDIR else {
                throw HubError(.io, repoID: repoID, subject: current, detail: "not a folder")
            }
        }
        return root + "/" + file
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// `refs/<revision>` ← commit, written only when it changes.
    func writeRef(_ revision: String, commit: String) throws {
        guard revision != commit else { return }
        let path = ref(revision)
        if let data = FileManager.default.contents(atPath: path), String(decoding: data, as: UTF8.self) == commit { return }
        try Self.writeAtomically(commit, to: path)
    }

    func readRef(_ revision: String) -> String? {
        guard let data = FileManager.default.contents(atPath: ref(revision)) else { return nil }
        let s = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? nil : s
    }

    func writeCachedirTag() {
        let path = root + "/CACHEDIR.TAG"
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let text = "Signature: 8a477f597d28d172789f06886806bc55\n"
            + "# This file is a cache directory tag created by huggingface_hub.\n"
            + "# For information about cache directory tags, see:\n"
            + "#\thttps://bford.info/cachedir/\n"
        try? Self.writeAtomically(text, to: path)
    }

    /// The repository folder and the cache's CACHEDIR.TAG, before anything is written into them.
    func prepareStorage() throws {
        try Self.makeDirectory(storage)
        writeCachedirTag()
    }

    /// The one way a blob enters the cache, for downloads and local folders alike: nothing to do when
    /// `blobs/<etag>` exists (and `reuse` accepts it); otherwise, under the blob's lock (shared with
    /// huggingface_hub), `write` fills `blobs/<etag>.incomplete` (a download resumes what is there) and the
    /// complete file is renamed into place.
    /// - Parameter reuse: whether an existing blob may stay; one it rejects is replaced.
    /// - Throws: `HubError` (`.io`, `.diskFull`) or what `write` throws.
    func addBlob(
        _ etag: String, reuse: (_ blob: String) -> Bool = { _ in true }, write: (_ partial: String) async throws -> Void
    ) async throws {
        let blob = blob(etag)
        if FileManager.default.fileExists(atPath: blob), reuse(blob) { return }
        do { try Self.makeDirectory(blobsDir) } catch { throw HubClient.ioError(error, repoID: repoID, subject: blobsDir) }
        let lock = try await FileLock.acquire(self.lock(etag), repoID: repoID)
        defer { lock.release() }
        if FileManager.default.fileExists(atPath: blob) {
            if reuse(blob) { return }  // another process finished it
            unlink(blob)
        }
        try await write(incomplete(etag))
        do {
            try DurableFile.publish(incomplete(etag), as: blob)
        } catch let e as FileWriteError {
            throw HubClient.posixError(e.code, repoID: repoID, subject: blob)
        }
    }

    /// Creates (replacing) the relative symlink `snapshots/<commit>/<file>` → blob, refusing to escape.
    func link(commit: String, file: String, etag: String) throws {
        let dst = pointer(commit, file)
        let parent = (dst as NSString).deletingLastPathComponent
        try Self.makeDirectory(parent)
        let base = URL(fileURLWithPath: snapshotDir(commit)).resolvingSymlinksInPath().path
        let real = URL(fileURLWithPath: parent).resolvingSymlinksInPath().path
        guard real == base || real.hasPrefix(base + "/") else {
            throw HubError(.unsafePath, repoID: repoID, subject: file)
        }
        unlink(dst)
        guard symlink(Self.relativeBlobTarget(file: file, etag: etag), dst) == 0 else {
            throw HubError(.io, repoID: repoID, subject: dst, detail: String(cString: strerror(errno)))
        }
    }

    // MARK: Tree listing cache (huggingface_hub ≥ 1.x `trees/<commit>.json`)

    struct TreeEntry: Sendable {
        var size: UInt64
        var blobID: String
        var lfsSHA256: String?
        var lfsSize: UInt64?
    }

    /// Writes `trees/<commit>.json` exactly as huggingface_hub does (`json.dump(indent=1)`, sorted paths).
    func writeTreeCache(_ commit: String, _ entries: [String: TreeEntry]) throws {
        let path = treeCache(commit)
        guard !FileManager.default.fileExists(atPath: path) else { return }
        var out = "{\n \"format_version\": 1,\n \"files\": "
        if entries.isEmpty {
            out += "{}"
        } else {
            out += "{\n"
            let keys = entries.keys.sorted { Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) }
            for (n, key) in keys.enumerated() {
                let e = entries[key]!
                out += "  \(Self.pythonJSONString(key)): {\n   \"size\": \(e.size),\n   \"blob_id\": \(Self.pythonJSONString(e.blobID))"
                if let sha = e.lfsSHA256 {
                    out += ",\n   \"lfs_sha256\": \(Self.pythonJSONString(sha)),\n   \"lfs_size\": \(e.lfsSize ?? e.size)"
                }
                out += "\n  }" + (n == keys.count - 1 ? "\n" : ",\n")
            }
            out += " }"
        }
        out += "\n}"
        try Self.writeAtomically(out, to: path)
    }

    func readTreeCache(_ commit: String) -> [String: TreeEntry]? {
        guard let data = FileManager.default.contents(atPath: treeCache(commit)),
            let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            obj["format_version"] as? Int == 1, let files = obj["files"] as? [String: [String: Any]]
        else { return nil }
        var out: [String: TreeEntry] = [:]
        for (k, v) in files {
            out[k] = TreeEntry(
                size: (v["size"] as? NSNumber)?.uint64Value ?? 0, blobID: v["blob_id"] as? String ?? "",
                lfsSHA256: v["lfs_sha256"] as? String, lfsSize: (v["lfs_size"] as? NSNumber)?.uint64Value)
        }
        return out
    }

    /// Python's `json.dumps` string form (ensure_ascii=True).
    static func pythonJSONString(_ s: String) -> String {
        var out = "\""
        for u in s.utf16 {
            switch u {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(u)!)
            default: out += String(format: "\\u%04x", u)
            }
        }
        return out + "\""
    }
}
