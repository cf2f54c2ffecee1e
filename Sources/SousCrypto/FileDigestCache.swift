import Foundation
import Synchronization

/// Whole-file SHA-256 digests remembered for the life of the process, keyed by path and checked against the
/// file's identity (device, inode, size, modification and change times) on every use.
///
/// One `sous run` hashes a file for the step fingerprint and then needs the same digest again (for example
/// the `sous-sha256` metadata of an S3 upload); this cache makes the second use free without ever returning a
/// digest for bytes that have changed: a digest is stored only when the file's identity is the same before and
/// after hashing, and a lookup stats the file again.
public enum FileDigestCache {
    struct Identity: Equatable {
        var dev: UInt64, ino: UInt64, size: Int64
        var mtimeSec: Int, mtimeNsec: Int, ctimeSec: Int, ctimeNsec: Int
    }

    private static let entries = Mutex<[String: (Identity, [UInt8])]>([:])

    static func identity(_ path: String) -> Identity? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Identity(
            dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), size: Int64(st.st_size),
            mtimeSec: st.st_mtim.tv_sec, mtimeNsec: st.st_mtim.tv_nsec,
            ctimeSec: st.st_ctim.tv_sec, ctimeNsec: st.st_ctim.tv_nsec)
    }

    /// SHA-256 of the whole file at `path` (symbolic links followed), from the cache when the file is unchanged.
    /// A file being hashed when another caller asks for it is hashed once: the second caller waits for the
    /// first's digest (see `prefetch`).
    ///
    /// - Throws: a Foundation file error when the file cannot be read.
    public static func sha256(ofFile path: String) throws -> [UInt8] {
        let before = identity(path)
        if let before, let hit = entries.withLock({ $0[path] }), hit.0 == before { return hit.1 }
        // Someone else hashing this path: wait for them, then take their digest if the file is still the same.
        hashing.lock()
        while hashing.paths.contains(path) { hashing.wait() }
        if let before, let hit = entries.withLock({ $0[path] }), hit.0 == before {
            hashing.unlock()
            return hit.1
        }
        hashing.paths.insert(path)
        hashing.unlock()
        defer {
            hashing.lock()
            hashing.paths.remove(path)
            hashing.broadcast()
            hashing.unlock()
        }
        let digest = try sha256OfFile(atPath: path)
        passes.withLock { $0[path, default: 0] += 1 }
        if let before, identity(path) == before {
            entries.withLock { $0[path] = (before, digest) }
        }
        return digest
    }

    /// Paths being hashed now, and the condition their waiters wait on.
    /// @unchecked Sendable: `paths` is only touched with the condition's lock held.
    final class InFlight: @unchecked Sendable {
        private let condition = NSCondition()
        var paths = Set<String>()
        func lock() { condition.lock() }
        func unlock() { condition.unlock() }
        func wait() { condition.wait() }
        func broadcast() { condition.broadcast() }
    }
    private static let hashing = InFlight()
    /// How many times each path was read and hashed in this process (tests check that waiters share a pass).
    static let passes = Mutex<[String: Int]>([:])

    /// Hashes `paths` one after another on a thread of its own, so their digests are ready (or on the way)
    /// when someone asks for them: an upload of several large files hashes the next file while the current
    /// ones are on the wire instead of between them. Errors are left for the caller who asks.
    public static func prefetch(_ paths: [String]) {
        guard !paths.isEmpty else { return }
        let t = Thread {
            for p in paths { _ = try? sha256(ofFile: p) }
        }
        t.name = "sous-sha256-prefetch"
        t.start()
    }

    /// Like `sha256(ofFile:)` when the file is exactly `size` bytes long; nil otherwise (the caller hashes a
    /// region itself).
    public static func sha256(ofFile path: String, ifSize size: UInt64) throws -> [UInt8]? {
        guard let id = identity(path), id.size >= 0, UInt64(id.size) == size else { return nil }
        return try sha256(ofFile: path)
    }

    /// Forgets every remembered digest (tests).
    public static func removeAll() { entries.withLock { $0.removeAll() } }
}
