import Foundation
import SousBasics
import SousCrypto
import SousEngine
import SousRecipe

/// A MiB of zeros, compared against the archive's bytes to find holes.
private let zeroBlock = [UInt8](repeating: 0, count: 1 << 20)

/// Streams a folder into a tar (optionally gzip) file, hashing the output as it goes.
///
/// Entries are ustar; a name longer than ustar's fields or a file of 8 GiB or more (past the 11 octal
/// digits of the size field) gets a PAX extended header (`path`, `size` records) before its entry, as GNU
/// tar and Python's tarfile write and read them. Runs of zero bytes in an uncompressed archive are left as
/// holes, so a sparse input gives a sparse archive. The archive is written as `<path>.partial`, flushed to
/// the disk and only then renamed to `path`.
enum TarWriter {
    struct Result {
        var size: UInt64
        var sha256: String
        var files: Int
    }

    static func write(folder: String, to path: String, topFolder top: String?, gzip: Bool) throws -> Result {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let tmp = path + ".partial"
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let handle = FileHandle(forWritingAtPath: tmp) else { throw StepError("cannot write \(path)") }
        var sink = Sink(handle: handle, gzip: gzip)
        do {
            // Folders first-class entries too, so empty folders survive; all sorted by path.
            var entries: [(String, Bool, UInt64, Bool)] = []  // rel, isDir, size, executable
            func visit(_ dir: String, _ rel: String) throws {
                for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() {
                    let full = dir + "/" + name
                    let r = rel.isEmpty ? name : rel + "/" + name
                    guard let st = FileStatus(full) else { continue }
                    if st.isDirectory {
                        entries.append((r, true, 0, true))
                        try visit(full, r)
                    } else if st.isFile {
                        entries.append((r, false, st.size, (st.permissions & 0o111) != 0))
                    }
                }
            }
            try visit(folder, "")
            if let top { try sink.header(name: top + "/", size: 0, isDir: true, executable: true) }
            var files = 0
            for (rel, isDir, size, exec) in entries {
                let name = (top.map { $0 + "/" } ?? "") + rel + (isDir ? "/" : "")
                try sink.header(name: name, size: isDir ? 0 : size, isDir: isDir, executable: exec)
                if !isDir {
                    try sink.copyFile(folder + "/" + rel, size: size)
                    files += 1
                }
            }
            try sink.write(Data(count: 1024))  // two zero blocks end the archive
            let (size, sha) = try sink.finish()
            try handle.close()
            do {
                try DurableFile.publish(tmp, as: path)
            } catch {
                throw StepError("cannot move the archive into place at \(path): \(error)")
            }
            return Result(size: size, sha256: sha, files: files)
        } catch {
            try? handle.close()
            unlink(tmp)
            throw error
        }
    }

    /// Tar output with optional gzip framing (stored deflate blocks), hashed as written.
    struct Sink {
        let handle: FileHandle
        let gzip: Bool
        var hasher = SHA256Hasher()
        var written: UInt64 = 0
        var crc = CRC32()
        var rawSize: UInt64 = 0
        /// gzip: bytes of the stored block being filled (at most `blockLimit`).
        var pending: [UInt8] = []
        static let blockLimit = 65_535

        init(handle: FileHandle, gzip: Bool) {
            self.handle = handle
            self.gzip = gzip
            if gzip {
                pending.reserveCapacity(Self.blockLimit)
                // Header: magic, deflate, no flags, mtime 0, xfl 0, OS 255 (unknown).
                let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]
                header.withUnsafeBytes { emit($0) }
            }
        }

        /// Appends archive bytes: hashed, then written at the current offset. Without gzip a chunk of only
        /// zeros is skipped (a hole; `finish` sets the final length).
        mutating func emit(_ d: UnsafeRawBufferPointer) {
            hasher.update(d)
            if gzip || !Self.isZero(d) {
                var done = 0
                let fd = handle.fileDescriptor
                while done < d.count {
                    let n = pwrite(fd, d.baseAddress! + done, d.count - done, off_t(written) + off_t(done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = failure ?? errno
                        break
                    }
                    done += n
                }
            }
            written += UInt64(d.count)
        }
        /// The first write error (reported by `finish`).
        var failure: Int32?

        /// Whether `d` holds only zero bytes (compared with `memcmp`, a MiB at a time).
        static func isZero(_ d: UnsafeRawBufferPointer) -> Bool {
            zeroBlock.withUnsafeBytes { zeros in
                var at = 0
                while at < d.count {
                    let n = min(d.count - at, zeros.count)
                    if memcmp(d.baseAddress! + at, zeros.baseAddress!, n) != 0 { return false }
                    at += n
                }
                return true
            }
        }

        mutating func write(_ d: Data) throws {
            d.withUnsafeBytes { write($0) }
        }

        mutating func write(_ d: UnsafeRawBufferPointer) {
            guard gzip else { return emit(d) }
            crc.update(d)
            rawSize += UInt64(d.count)
            var at = 0
            while at < d.count {
                let take = min(Self.blockLimit - pending.count, d.count - at)
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[at..<(at + take)]))
                at += take
                if pending.count == Self.blockLimit { flushBlock(final: false) }
            }
        }

        /// One stored deflate block holding `pending`.
        mutating func flushBlock(final: Bool) {
            let len = UInt16(pending.count)
            let header: [UInt8] = [final ? 1 : 0, UInt8(len & 0xff), UInt8(len >> 8), UInt8(~len & 0xff), UInt8(~len >> 8)]
            header.withUnsafeBytes { emit($0) }
            let block = pending
            block.withUnsafeBytes { emit($0) }
            pending.removeAll(keepingCapacity: true)
        }

        mutating func finish() throws -> (UInt64, String) {
            if gzip {
                flushBlock(final: true)
                var trailer: [UInt8] = []
                for v in [crc.value, UInt32(truncatingIfNeeded: rawSize)] {
                    trailer += [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)]
                }
                trailer.withUnsafeBytes { emit($0) }
            }
            if failure == nil, ftruncate(handle.fileDescriptor, off_t(written)) != 0 { failure = errno }  // a trailing hole
            if let failure { throw StepError("cannot write the archive: \(String(cString: strerror(failure)))") }
            let h = hasher
            return (written, h.finalize().hexString)
        }

        mutating func header(name: String, size: UInt64, isDir: Bool, executable: Bool) throws {
            try write(headerBlocks(name: name, size: size, isDir: isDir, executable: executable))
        }

        /// The largest size ustar's 11 octal digits hold (8 GiB - 1).
        static let ustarSizeLimit: UInt64 = (1 << 33) - 1

        /// The header blocks of one entry: a PAX extended header first when the name does not fit ustar's
        /// fields or the size does not fit its 11 octal digits.
        func headerBlocks(name: String, size: UInt64, isDir: Bool, executable: Bool) -> Data {
            var nameField = name
            var prefix = ""
            var records = ""
            let bytes = Array(name.utf8)
            if bytes.count > 100 {
                // ustar splits long names at a '/' into prefix (155) + name (100); else a PAX `path` record.
                if let cut = (0..<min(bytes.count, 156)).reversed().first(where: { bytes[$0] == UInt8(ascii: "/") && bytes.count - $0 - 1 <= 100 && $0 > 0 }) {
                    prefix = String(decoding: bytes[..<cut], as: UTF8.self)
                    nameField = String(decoding: bytes[(cut + 1)...], as: UTF8.self)
                } else {
                    records += paxRecord("path", name)
                    nameField = String(decoding: bytes.suffix(100).drop { $0 & 0xC0 == 0x80 }, as: UTF8.self)
                }
            }
            if size > Self.ustarSizeLimit { records += paxRecord("size", String(size)) }
            var out = Data()
            if !records.isEmpty {
                out += block(name: "PaxHeaders/entry", size: UInt64(records.utf8.count), typeflag: UInt8(ascii: "x"), mode: 0o644, prefix: "")
                out += padded(Data(records.utf8))
            }
            let mode = isDir || executable ? 0o755 : 0o644
            // Past the limit the PAX `size` record holds the size; readers ignore the ustar field then.
            let field = size > Self.ustarSizeLimit ? 0 : size
            out += block(name: nameField, size: field, typeflag: isDir ? UInt8(ascii: "5") : UInt8(ascii: "0"), mode: mode, prefix: prefix)
            return out
        }

        func paxRecord(_ key: String, _ value: String) -> String {
            let body = " \(key)=\(value)\n"
            var len = body.utf8.count + 1
            while "\(len)\(body)".utf8.count != len { len = "\(len)\(body)".utf8.count }
            return "\(len)\(body)"
        }

        func padded(_ d: Data) -> Data {
            var out = d
            let rem = d.count % 512
            if rem != 0 { out.append(Data(count: 512 - rem)) }
            return out
        }

        func block(name: String, size: UInt64, typeflag: UInt8, mode: Int, prefix: String) -> Data {
            var b = [UInt8](repeating: 0, count: 512)
            func put(_ s: String, _ at: Int, _ len: Int) {
                for (i, c) in Array(s.utf8).prefix(len).enumerated() { b[at + i] = c }
            }
            func octal(_ v: UInt64, _ at: Int, _ len: Int) {
                let s = String(v, radix: 8)
                put(String(repeating: "0", count: max(0, len - 1 - s.count)) + s, at, len - 1)
            }
            put(name, 0, 100)
            octal(UInt64(mode), 100, 8)
            octal(0, 108, 8)
            octal(0, 116, 8)
            octal(size, 124, 12)
            octal(0, 136, 12)
            for i in 148..<156 { b[i] = 0x20 }
            b[156] = typeflag
            put("ustar", 257, 6)
            put("00", 263, 2)
            put("root", 265, 32)
            put("root", 297, 32)
            put(prefix, 345, 155)
            let sum = b.reduce(0) { $0 + Int($1) }
            let s = String(sum, radix: 8)
            put(String(repeating: "0", count: max(0, 6 - s.count)) + s, 148, 6)
            b[154] = 0
            b[155] = 0x20
            return Data(b)
        }

        /// The file's `size` bytes (pread into one reused buffer), then the padding to a 512-byte block.
        mutating func copyFile(_ path: String, size: UInt64) throws {
            var copied: UInt64 = 0
            do {
                try forEachChunk(ofFile: path, length: size) { chunk in
                    write(chunk)
                    copied += UInt64(chunk.count)
                }
            } catch let e as FileReadError {
                throw StepError("cannot read \(path): \(String(cString: strerror(e.code)))")
            }
            if copied < size { throw StepError("\(path) shrank while it was being packed") }
            let rem = Int(size % 512)
            if rem != 0 { try write(Data(count: 512 - rem)) }
        }
    }
}
