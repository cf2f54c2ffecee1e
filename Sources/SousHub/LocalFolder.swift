import Foundation
import SousBasics
import SousCrypto

/// A local folder given as the repository id (`/…`, `./…`, `../…`, `~/…`), taken into the huggingface_hub
/// cache the way a download is written, so that the steps after it cannot tell the two apart:
///
/// - cache name: `models--local--<name>` (repository id `local/<name>`), `<name>` being the folder's own name
///   made a valid Hub name: characters other than ASCII letters, digits, `-`, `_` and `.` become `-`, runs of
///   `-` or `.` shrink to one, leading and trailing `-` / `.` go, at most 96 characters (`folder` if nothing
///   is left). Two folders with the same name share the cache repository; their snapshots differ by commit;
/// - commit: the first 40 hex digits of the sha256 of the manifest, one `<sha256>  <path>\n` line per file
///   taken (sha256sum's format), sorted by the paths' UTF-8 bytes: the same files give the same commit, a
///   changed, added or removed file a new one;
/// - files: every regular file under the folder, less dotfiles and dot-folders (`.git`, `.cache`, …), filtered
///   by the allow/ignore patterns. A symbolic link is followed when it leads to a file inside the folder (or,
///   for a snapshot folder of a huggingface_hub cache, into that repository's `blobs/`); other links, special
///   files and unsafe names are refused;
/// - blobs: `blobs/<sha256>` (as LFS files are named), a hard link to the file when the cache is on the same
///   file system, else a copy, each checked against the hashed content (a blob already there is kept when it
///   is the file itself or still hashes to its name); `snapshots/<commit>/<path>` and
///   `refs/<revision>` are written by the same `HubCache` functions as for a download.
struct LocalFolder {
    /// Absolute, as given (`~` expanded, `.` and `..` removed, symbolic links kept): the name in messages.
    let path: String
    /// Real paths a symbolic link in the folder may lead into.
    private let allowedRoots: [String]

    /// One file taken from the folder.
    struct File: Sendable {
        /// Repository-relative path.
        var path: String
        /// The file read and linked (a symbolic link resolved).
        var source: String
        var size: UInt64
        /// Modification time when hashed (seconds, nanoseconds): a hard link is checked against it.
        var mtime: [Int]
        var sha256: String
    }

    struct Manifest: Sendable {
        /// Sorted by path (UTF-8 bytes).
        var files: [File]
        var commit: String
    }

    /// The absolute folder `repoID` names when it is written as a path (`/…`, `./…`, `../…`, `~/…`; relative
    /// to `currentDirectory`), else nil.
    static func path(of repoID: String, env: [String: String], currentDirectory: String) -> String? {
        guard ["/", "./", "../", "~/"].contains(where: { repoID.hasPrefix($0) }) else { return nil }
        var full = HubEnvironment.expand(repoID, env)
        if !full.hasPrefix("/") { full = currentDirectory + "/" + full }
        var parts: [Substring] = []
        for part in full.split(separator: "/") where part != "." {
            if part == ".." {
                _ = parts.popLast()
            } else {
                parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// - Throws: `HubError.localFolder` when `path` is not a folder.
    init(path: String) throws {
        self.path = path
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw HubError(
                .localFolder, repoID: path,
                detail: "\(String(cString: strerror(errno))); check the path (a relative one is taken from the current directory)")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw HubError(.localFolder, repoID: path, detail: "it is not a folder; give the folder that holds the model's files")
        }
        let real = HubCache.realPath(path) ?? path
        var roots = [real]
        let parent = (real as NSString).deletingLastPathComponent
        if (parent as NSString).lastPathComponent == "snapshots",
            let blobs = HubCache.realPath((parent as NSString).deletingLastPathComponent + "/blobs")
        {
            roots.append(blobs)  // a huggingface_hub snapshot: its files are links to ../../blobs/<etag>
        }
        allowedRoots = roots
    }

    /// `local/<name>`: the repository id of the folder in the cache (see the type's description).
    var cacheRepoID: String {
        var name = ""
        for scalar in (path as NSString).lastPathComponent.unicodeScalars {
            let keep = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_.".unicodeScalars.contains(scalar))
            let c = keep ? Character(scalar) : "-"
            if (c == "-" || c == ".") && name.last == c { continue }
            name.append(c)
        }
        let trim = CharacterSet(charactersIn: "-.")
        name = String(name.trimmingCharacters(in: trim).prefix(96)).trimmingCharacters(in: trim)
        return "local/" + (name.isEmpty ? "folder" : name)
    }

    /// The files the patterns select, hashed (digests are remembered per process by `FileDigestCache`).
    /// - Throws: `HubError` (`.unsafePath`, `.localFolder`) for the first selected file that cannot be taken.
    func manifest(allow: [String]?, ignore: [String]?) throws -> Manifest {
        var entries: [String: Entry] = [:]
        try walk(path, prefix: "", into: &entries)
        let selected = HubPattern.filter(Array(entries.keys), allow: allow, ignore: ignore)
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var files: [File] = []
        for rel in selected {
            guard HubCache.isSafeRelativePath(rel) else { throw HubError(.unsafePath, repoID: path, subject: rel) }
            switch entries[rel]! {
            case .refused(let why):
                throw HubError(.localFolder, repoID: path, subject: rel, detail: why)
            case .file(let source):
                files.append(try hash(rel, source))
            }
        }
        let text = files.map { "\($0.sha256)  \($0.path)\n" }.joined()
        return Manifest(files: files, commit: String(Digest.sha256(Data(text.utf8)).hexString.prefix(40)))
    }

    // MARK: Walking the folder

    /// A name in the folder: a file to take (its real path), or why it cannot be taken (an error only if selected).
    private enum Entry {
        case file(String)
        case refused(String)
    }

    private func walk(_ dir: String, prefix: String, into entries: inout [String: Entry]) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir)
        } catch {
            throw HubError(.localFolder, repoID: path, subject: prefix, detail: "cannot list '\(prefix.isEmpty ? "." : prefix)' (\(error.localizedDescription))")
        }
        for name in names where !name.hasPrefix(".") {
            let full = dir + "/" + name
            let rel = prefix + name
            var st = stat()
            guard lstat(full, &st) == 0 else {
                entries[rel] = .refused("cannot read '\(rel)' (\(String(cString: strerror(errno))))")
                continue
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try walk(full, prefix: rel + "/", into: &entries)
            case S_IFREG:
                entries[rel] = .file(full)
            case S_IFLNK:
                entries[rel] = followLink(rel, full)
            default:
                entries[rel] = .refused("'\(rel)' is not a regular file; leave it out with ignore_patterns")
            }
        }
    }

    /// A symbolic link is taken as the file it leads to when that is a regular file inside an allowed root.
    private func followLink(_ rel: String, _ full: String) -> Entry {
        guard let target = HubCache.realPath(full) else {
            return .refused("'\(rel)' is a broken symbolic link; remove it or leave it out with ignore_patterns")
        }
        guard allowedRoots.contains(where: { target.hasPrefix($0 + "/") }) else {
            return .refused(
                "'\(rel)' is a symbolic link to \(target), outside the folder; copy the file into the folder, or leave it out with ignore_patterns")
        }
        var st = stat()
        guard stat(target, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            return .refused("'\(rel)' is a symbolic link to a folder or a special file; only links to files are followed")
        }
        return .file(target)
    }

    private func hash(_ rel: String, _ source: String) throws -> File {
        var st = stat()
        guard stat(source, &st) == 0 else { throw unreadable(rel, errno) }
        let digest: [UInt8]
        do {
            digest = try FileDigestCache.sha256(ofFile: source)
        } catch let e as FileReadError {
            throw unreadable(rel, e.code)
        }
        return File(
            path: rel, source: source, size: UInt64(st.st_size), mtime: [st.st_mtim.tv_sec, st.st_mtim.tv_nsec],
            sha256: digest.hexString)
    }

    // MARK: Writing a blob

    /// Whether the existing `blob` holds `file`'s content: it is that very file (a hard link made earlier), or
    /// its bytes hash to the name. A blob hard-linked to another file that was since written in place fails
    /// this and is replaced.
    func holds(_ file: File, _ blob: String) -> Bool {
        var a = stat()
        var b = stat()
        if stat(blob, &a) == 0, stat(file.source, &b) == 0, a.st_dev == b.st_dev, a.st_ino == b.st_ino { return true }
        return (try? FileDigestCache.sha256(ofFile: blob).hexString) == file.sha256
    }

    /// Fills `partial` (the blob's `.incomplete` name, see `HubCache.addBlob`) with `file`'s content: a hard
    /// link when the cache is on the same file system, else a copy (`addBlob` flushes it before the rename).
    /// Either way the content must be what was hashed, so a file changed meanwhile is never cached under the
    /// wrong name.
    /// - Throws: `HubError` (`.localFolder` when the file changed, `.io` / `.diskFull` when writing failed).
    func place(_ file: File, at partial: String) throws {
        unlink(partial)  // left by an interrupted run
        if link(file.source, partial) == 0 {
            var st = stat()
            if stat(partial, &st) == 0, UInt64(st.st_size) == file.size, [st.st_mtim.tv_sec, st.st_mtim.tv_nsec] == file.mtime {
                return
            }
            unlink(partial)
            throw changed(file)
        }
        let out = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw HubClient.posixError(errno, repoID: path, subject: partial) }
        defer { close(out) }
        var hasher = SHA256Hasher()
        do {
            try forEachChunk(ofFile: file.source) { chunk in
                hasher.update(chunk)
                if let err = writeAll(out, chunk) { throw HubClient.posixError(err, repoID: path, subject: partial) }
            }
        } catch let e as FileReadError {
            unlink(partial)
            throw unreadable(file.path, e.code)
        } catch {
            unlink(partial)
            throw error
        }
        guard hasher.finalize().hexString == file.sha256 else {
            unlink(partial)
            throw changed(file)
        }
    }

    private func unreadable(_ rel: String, _ code: Int32) -> HubError {
        HubError(.localFolder, repoID: path, subject: rel, detail: "cannot read '\(rel)' (\(String(cString: strerror(code)))); check its permissions")
    }

    private func changed(_ file: File) -> HubError {
        HubError(.localFolder, repoID: path, subject: file.path, detail: "'\(file.path)' changed while it was being taken in; rerun")
    }
}
