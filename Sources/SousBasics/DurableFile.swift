#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be written, flushed or moved into place.
public struct FileWriteError: Error, CustomStringConvertible {
    public let path: String
    public let code: Int32
    public init(path: String, code: Int32) {
        self.path = path
        self.code = code
    }
    public var description: String { "Cannot write \(path): \(String(cString: strerror(code)))." }
}

/// Publishing files so that a crash or a power loss never leaves a half-written one under the final name:
/// the content is written under a temporary name, flushed to the disk (`fsync`), renamed into place, and the
/// folder holding it flushed too, so that the rename itself is on the disk. For every file a later run
/// trusts by its name: the tar of an `archive.tar` step, Hub cache blobs, refs and listings, the resume
/// state of S3 multipart uploads.
public enum DurableFile {
    /// Flushes `path`'s content to the disk.
    /// - Throws: `FileWriteError`.
    public static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileWriteError(path: path, code: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw FileWriteError(path: path, code: errno) }
    }

    /// Flushes the folder holding `path` (its entries: a rename or a new file in it). Best effort: some file
    /// systems refuse `fsync` on a folder, and the content itself is already on the disk.
    public static func syncFolder(of path: String) {
        let fd = open(folder(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Moves the complete file `partial` to `path` durably: `partial` flushed, renamed over `path`, the
    /// folder flushed. `partial` must be on the same file system as `path`.
    /// - Throws: `FileWriteError` (`partial` is left for the caller to remove or resume).
    public static func publish(_ partial: String, as path: String) throws {
        try sync(partial)
        guard rename(partial, path) == 0 else { throw FileWriteError(path: path, code: errno) }
        syncFolder(of: path)
    }

    /// Writes `bytes` to `path` atomically and durably: a temporary file in the same folder (created with the
    /// folders on the way), flushed, renamed, the folder flushed.
    /// - Throws: `FileWriteError` (nothing is left under the temporary name).
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String, mode: UInt32 = 0o644) throws {
        let dir = folder(of: path)
        try makeFolders(dir)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let tmp = dir + "/." + name + ".\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw FileWriteError(path: path, code: errno) }
        var failure = writeAll(fd, bytes)
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

    /// `mkdir -p`.
    /// - Throws: `FileWriteError` naming the folder that could not be made.
    public static func makeFolders(_ path: String) throws {
        if FileStatus(path)?.isDirectory == true { return }
        let parent = folder(of: path)
        if parent != path { try makeFolders(parent) }
        if mkdir(path, 0o755) != 0, errno != EEXIST { throw FileWriteError(path: path, code: errno) }
    }

    /// The folder part of `path` ("." for a bare name, "/" for a top-level one).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
