public import Foundation

/// A file that could not be written, synced or moved into place.
public struct FileWriteError: Error, LocalizedError, CustomStringConvertible {
    public let path: String
    public let code: Int32
    public init(path: String, code: Int32) {
        self.path = path
        self.code = code
    }
    public var description: String { "Cannot write \(path): \(String(cString: strerror(code)))." }
    public var errorDescription: String? { description }
}

/// Publishing files so a crash never leaves a half-written one under the final name: the content is
/// written under a temporary name, flushed to the disk (`fsync`), renamed into place, and the folder
/// holding it flushed too, so the rename itself survives a power loss. Used for every file a later run
/// trusts by its name: the tar an `archive.tar` step writes, Hub cache blobs, refs and listings, and the
/// resume state of S3 multipart uploads.
public enum DurableFile {
    /// Flushes `path`'s content to the disk.
    /// - Throws: `FileWriteError`.
    public static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileWriteError(path: path, code: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw FileWriteError(path: path, code: errno) }
    }

    /// Flushes the folder holding `path` (its entries: a rename or a new file in it). Best effort: some
    /// file systems refuse `fsync` on a folder, and the content itself is already safe.
    public static func syncFolder(of path: String) {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Moves the complete file `partial` to `path` durably: `partial` flushed, renamed over `path`, the folder
    /// flushed. `partial` must be in the same folder (or file system) as `path`.
    /// - Throws: `FileWriteError` (the partial file is left for the caller to remove or resume).
    public static func publish(_ partial: String, as path: String) throws {
        try sync(partial)
        guard rename(partial, path) == 0 else { throw FileWriteError(path: path, code: errno) }
        syncFolder(of: path)
    }

    /// `mkdir -p`.
    /// - Throws: `FileWriteError` with the folder that could not be made.
    public static func makeFolders(_ path: String) throws {
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeFolders(parent) }
        if mkdir(path, 0o755) != 0, errno != EEXIST { throw FileWriteError(path: path, code: errno) }
    }

    /// Writes `data` to `path` atomically and durably (temporary file in the same folder, then `publish`),
    /// creating the folder when needed.
    /// - Throws: `FileWriteError` (nothing is left under the temporary name).
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try makeFolders(dir)
        let tmp = dir + "/." + (path as NSString).lastPathComponent + ".\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileWriteError(path: path, code: errno) }
        var failure: Int32?
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = errno }
        close(fd)
        if let failure {
            unlink(tmp)
            throw FileWriteError(path: path, code: failure)
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw FileWriteError(path: path, code: e)
        }
        syncFolder(of: path)
    }
}
