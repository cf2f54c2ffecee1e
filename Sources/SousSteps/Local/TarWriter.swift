import Foundation
import SousBasics
import SousCrypto
import SousEngine
import SousRecipe

/// Streams a folder into a tar (optionally gzip) file, hashing the output as it goes.
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
            if rename(tmp, path) != 0 { throw StepError("cannot move the archive into place at \(path)") }
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
        var pending = Data()

        init(handle: FileHandle, gzip: Bool) {
            self.handle = handle
            self.gzip = gzip
            if gzip {
                // Header: magic, deflate, no flags, mtime 0, xfl 0, OS 255 (unknown).
                emit(Data([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]))
            }
        }

        mutating func emit(_ d: Data) {
            hasher.update(d)
            handle.write(d)
            written += UInt64(d.count)
        }

        mutating func write(_ d: Data) throws {
            guard gzip else { return emit(d) }
            crc.update(d)
            rawSize += UInt64(d.count)
            pending.append(d)
            while pending.count >= 65_535 { flushBlock(final: false, count: 65_535) }
        }

        mutating func flushBlock(final: Bool, count: Int) {
            var block = Data([final ? 1 : 0])
            let len = UInt16(count)
            block.append(contentsOf: [UInt8(len & 0xff), UInt8(len >> 8), UInt8(~len & 0xff), UInt8(~len >> 8)])
            block.append(pending.prefix(count))
            pending.removeFirst(count)
            emit(block)
        }

        mutating func finish() throws -> (UInt64, String) {
            if gzip {
                while pending.count >= 65_535 { flushBlock(final: false, count: 65_535) }
                flushBlock(final: true, count: pending.count)
                var trailer = Data()
                for v in [crc.value, UInt32(truncatingIfNeeded: rawSize)] {
                    trailer.append(contentsOf: [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)])
                }
                emit(trailer)
            }
            let h = hasher
            return (written, h.finalize().hexString)
        }

        mutating func header(name: String, size: UInt64, isDir: Bool, executable: Bool) throws {
            var nameField = name
            var prefix = ""
            if Array(name.utf8).count > 100 {
                // ustar splits long names at a '/' into prefix (155) + name (100); else a PAX header.
                let bytes = Array(name.utf8)
                if let cut = (0..<min(bytes.count, 156)).reversed().first(where: { bytes[$0] == UInt8(ascii: "/") && bytes.count - $0 - 1 <= 100 && $0 > 0 }) {
                    prefix = String(decoding: bytes[..<cut], as: UTF8.self)
                    nameField = String(decoding: bytes[(cut + 1)...], as: UTF8.self)
                } else {
                    let record = paxRecord("path", name)
                    try write(block(name: "PaxHeaders/entry", size: UInt64(record.count), typeflag: UInt8(ascii: "x"), mode: 0o644, prefix: ""))
                    try write(padded(Data(record.utf8)))
                    nameField = String(decoding: bytes.suffix(100).drop { $0 & 0xC0 == 0x80 }, as: UTF8.self)
                }
            }
            let mode = isDir || executable ? 0o755 : 0o644
            try write(block(name: nameField, size: size, typeflag: isDir ? UInt8(ascii: "5") : UInt8(ascii: "0"), mode: mode, prefix: prefix))
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

        mutating func copyFile(_ path: String, size: UInt64) throws {
            guard let h = FileHandle(forReadingAtPath: path) else { throw StepError("cannot read \(path)") }
            defer { try? h.close() }
            var remaining = size
            while remaining > 0 {
                let chunk = h.readData(ofLength: Int(min(remaining, 1 << 20)))
                if chunk.isEmpty { throw StepError("\(path) shrank while it was being packed") }
                try write(chunk)
                remaining -= UInt64(chunk.count)
            }
            let rem = Int(size % 512)
            if rem != 0 { try write(Data(count: 512 - rem)) }
        }
    }
}
