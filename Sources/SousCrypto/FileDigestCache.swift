import Foundation
import Synchronization

/// What one read of a file yields: its SHA-256, and the CRC-32 of each MiB of it (from which the CRC-32 of
/// any MiB-aligned region, such as an S3 multipart part, or of the whole file is combined without reading the
/// file again).
public struct FileDigests: Sendable, Equatable {
    public var sha256: [UInt8]
    /// CRC-32 of each `crcBlockSize` block, in order (the last one may be shorter); `size` bytes in all.
    public var blockCRC32: [UInt32]
    public var size: UInt64
    public static let crcBlockSize: UInt64 = 1 << 20

    /// The CRC-32 (big-endian, as AWS encodes it) of `length` bytes at `offset`, when the region starts on a
    /// block boundary and ends on one or at the end of the file; nil otherwise (the caller reads the region).
    public func crc32(offset: UInt64, length: UInt64) -> [UInt8]? {
        let b = Self.crcBlockSize
        guard offset % b == 0, length % b == 0 || offset + length == size, offset + length <= size else { return nil }
        let first = Int(offset / b)
        let last = Int((offset + length + b - 1) / b)
        var crc = Checksum.bigEndianBytes(UInt32(0))  // the CRC of no bytes
        for i in first..<last {
            let blockLength = min(b, size - UInt64(i) * b)
            crc = CRCCombine.combine(.crc32, crc, Checksum.bigEndianBytes(blockCRC32[i]), secondLength: blockLength)
        }
        return crc
    }

    /// SHA-256 and block CRCs of a file region read once (`forEachChunk` reads MiB-aligned chunks).
    static func compute(_ path: String) throws -> FileDigests {
        var hasher = SHA256Hasher()
        var blocks: [UInt32] = []
        var size: UInt64 = 0
        try forEachChunk(ofFile: path) { chunk in
            hasher.update(chunk)
            var at = 0
            while at < chunk.count {
                // A chunk is one block unless a short read left a block unfinished: fill it first.
                let inBlock = Int(size % crcBlockSize)
                let n = min(chunk.count - at, Int(crcBlockSize) - inBlock)
                var c = Checksum(.crc32)
                c.update(UnsafeRawBufferPointer(rebasing: chunk[at..<(at + n)]))
                let crc = c.digest().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                if inBlock == 0 {
                    blocks.append(crc)
                } else {
                    let previous = Checksum.bigEndianBytes(blocks[blocks.count - 1])
                    let joined = CRCCombine.combine(.crc32, previous, Checksum.bigEndianBytes(crc), secondLength: UInt64(n))
                    blocks[blocks.count - 1] = joined.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                }
                size += UInt64(n)
                at += n
            }
        }
        return FileDigests(sha256: hasher.finalize(), blockCRC32: blocks, size: size)
    }
}

/// Whole-file digests (`FileDigests`: SHA-256 and MiB CRC-32s) remembered for the life of the process, keyed by
/// path and checked against the file's identity (device, inode, size, modification and change times) on every
/// use.
///
/// One `sous run` hashes a file for the step fingerprint and then needs the same digest again (for example
/// the `sous-sha256` metadata of an S3 upload, and the CRC-32 checksums of its parts); this cache makes the
/// second use free without ever returning a digest for bytes that have changed: a digest is stored only when
/// the file's identity is the same before and after hashing, and a lookup stats the file again.
public enum FileDigestCache {
    struct Identity: Equatable {
        var dev: UInt64, ino: UInt64, size: Int64
        var mtimeSec: Int, mtimeNsec: Int, ctimeSec: Int, ctimeNsec: Int
    }

    private static let entries = Mutex<[String: (Identity, FileDigests)]>([:])

    static func identity(_ path: String) -> Identity? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Identity(
            dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), size: Int64(st.st_size),
            mtimeSec: st.st_mtim.tv_sec, mtimeNsec: st.st_mtim.tv_nsec,
            ctimeSec: st.st_ctim.tv_sec, ctimeNsec: st.st_ctim.tv_nsec)
    }

    /// SHA-256 of the whole file at `path` (symbolic links followed), from the cache when the file is unchanged.
    /// - Throws: `FileReadError` when the file cannot be read.
    public static func sha256(ofFile path: String) throws -> [UInt8] { try digests(ofFile: path).sha256 }

    /// The digests of the whole file at `path` (symbolic links followed), from the cache when the file is
    /// unchanged. A file being hashed when another caller asks for it is hashed once: the second caller waits
    /// for the first's digests (see `prefetch`).
    ///
    /// - Throws: `FileReadError` when the file cannot be read.
    public static func digests(ofFile path: String) throws -> FileDigests {
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
        let digest = try FileDigests.compute(path)
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

    /// Like `digests(ofFile:)` when the file is exactly `size` bytes long; nil otherwise (the caller hashes a
    /// region itself).
    public static func digests(ofFile path: String, ifSize size: UInt64) throws -> FileDigests? {
        guard let id = identity(path), id.size >= 0, UInt64(id.size) == size else { return nil }
        return try digests(ofFile: path)
    }

    /// `digests(ofFile:ifSize:)`'s SHA-256.
    public static func sha256(ofFile path: String, ifSize size: UInt64) throws -> [UInt8]? {
        try digests(ofFile: path, ifSize: size)?.sha256
    }

    /// Forgets every remembered digest (tests).
    public static func removeAll() { entries.withLock { $0.removeAll() } }
}
