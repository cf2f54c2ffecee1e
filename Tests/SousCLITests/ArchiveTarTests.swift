import Foundation
import SousCrypto
import SousTestSupport
import Testing

@testable import SousSteps

/// `archive.tar`'s writer read back by two independent readers: Python's tarfile and GNU tar.
@Suite("archive.tar: files past the ustar size field", .serialized)
struct ArchiveTarTests {
    /// 8 GiB + 1: one byte past what ustar's 11 octal digits can hold (8^11 - 1).
    static let bigSize: UInt64 = (1 << 33) + 1

    static var gnuTar: String? {
        ["/usr/bin/tar", "/bin/tar"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A sparse file of `bigSize` bytes with a marker at its start and its end (the rest reads as zeros).
    static func makeSparse(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        let head = Array("HEAD".utf8), tail = Array("TAIL".utf8)
        #expect(pwrite(fd, head, head.count, 0) == head.count)
        #expect(pwrite(fd, tail, tail.count, off_t(bigSize) - off_t(tail.count)) == tail.count)
        #expect(ftruncate(fd, off_t(bigSize)) == 0)
    }

    @Test(.enabled(if: gnuTar != nil, "needs GNU tar"))
    func aFileOfEightGiBAndMoreReadsBackWithPythonAndGNUTar() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-tar")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("model").path
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try Self.makeSparse(src + "/a-big.safetensors")
        // After the big entry: its content is where a wrong size would look for the next header.
        try Data("after the big one\n".utf8).write(to: URL(fileURLWithPath: src + "/z-config.json"))
        let out = dir.appendingPathComponent("model.tar").path

        let result = try await offCooperativePool {
            try TarWriter.write(folder: src, to: out, topFolder: nil, gzip: false)
        }
        #expect(result.files == 2)
        // About 25 s on an idle 2-core machine (SHA-256 of 8 GiB, sparse reads); the bound only catches a
        // pathological slowdown (a per-byte loop) on a machine busy with the other suites.
        // The archive of a sparse file is sparse too: far less disk than its size.
        var st = stat()
        #expect(stat(out, &st) == 0)
        #expect(UInt64(st.st_size) == result.size)
        #expect(UInt64(st.st_blocks) * 512 < 64 << 20, "the archive holds \(st.st_blocks * 512) bytes on disk")

        // Python's tarfile: names, sizes, and the bytes at both ends of the big file and of the small one.
        let check = try runPython([
            "-c",
            """
            import sys, tarfile
            with tarfile.open(sys.argv[1]) as t:
                members = t.getmembers()
                print([(m.name, m.size) for m in members])
                big = t.extractfile("a-big.safetensors")
                head = big.read(4)
                big.seek(\(Self.bigSize) - 4)
                tail = big.read(4)
                small = t.extractfile("z-config.json").read()
                print(head, tail, small)
            """,
            out,
        ])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("[('a-big.safetensors', \(Self.bigSize)), ('z-config.json', 18)]"), "\(check.stdout)")
        #expect(check.stdout.contains("b'HEAD' b'TAIL' b'after the big one\\n'"), "\(check.stdout)")

        // GNU tar: the listing shows the full size, and the small file after it extracts intact.
        let listing = try Self.run(Self.gnuTar!, ["-tvf", out])
        #expect(listing.status == 0, "\(listing.output)")
        #expect(listing.output.contains(" \(Self.bigSize) "), "\(listing.output)")
        #expect(listing.output.contains("z-config.json"))
        let extracted = dir.appendingPathComponent("x").path
        try FileManager.default.createDirectory(atPath: extracted, withIntermediateDirectories: true)
        let x = try Self.run(Self.gnuTar!, ["-xf", out, "-C", extracted, "z-config.json"])
        #expect(x.status == 0, "\(x.output)")
        #expect(try String(contentsOfFile: extracted + "/z-config.json", encoding: .utf8) == "after the big one\n")
    }

    @Test func gzipOutputReadsBackWithPythonAndGNUTar() throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-tgz")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("code").path
        try FileManager.default.createDirectory(atPath: src + "/sub", withIntermediateDirectories: true)
        // Larger than one stored deflate block (65,535 bytes), and zeros (no hole inside gzip framing).
        let big = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try big.write(to: URL(fileURLWithPath: src + "/sub/big.bin"))
        try Data(count: 70_000).write(to: URL(fileURLWithPath: src + "/zeros.bin"))
        try Data("option.rolling_batch=auto\n".utf8).write(to: URL(fileURLWithPath: src + "/serving.properties"))
        let out = dir.appendingPathComponent("model.tar.gz").path
        let result = try TarWriter.write(folder: src, to: out, topFolder: "code", gzip: true)
        #expect(result.files == 3)
        let check = try runPython([
            "-c",
            """
            import hashlib, sys, tarfile
            with tarfile.open(sys.argv[1], "r:gz") as t:
                for m in t.getmembers():
                    data = t.extractfile(m).read() if m.isfile() else b""
                    print(m.name, m.size, hashlib.sha256(data).hexdigest())
            print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())
            """,
            out,
        ])
        #expect(check.status == 0, "\(check.stderr)")
        let lines = check.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("code/sub/big.bin 200000 \(Digest.sha256(big).hexString)"), "\(check.stdout)")
        #expect(lines.contains("code/zeros.bin 70000 \(Digest.sha256(Data(count: 70_000)).hexString)"), "\(check.stdout)")
        #expect(lines.last == result.sha256)
        if let tar = Self.gnuTar {
            let listing = try Self.run(tar, ["-tzvf", out])
            #expect(listing.status == 0 && listing.output.contains("code/serving.properties"), "\(listing.output)")
        }
    }

    @Test func theSizeFieldHoldsUpToElevenOctalDigitsAndAPaxRecordCarriesMore() throws {
        // Just below the limit: plain ustar, no PAX header.
        let limit: UInt64 = (1 << 33) - 1
        var sink = TarWriter.Sink(handle: FileHandle.nullDevice, gzip: false)
        #expect(sink.headerBlocks(name: "f", size: limit, isDir: false, executable: false).count == 512)
        let big = sink.headerBlocks(name: "f", size: limit + 1, isDir: false, executable: false)
        #expect(big.count == 3 * 512)  // PAX header, its record, the entry
        #expect(String(decoding: big[512..<1024], as: UTF8.self).hasPrefix("19 size=8589934592\n"))
        // A long name and a large size share one PAX header.
        let long = String(repeating: "n", count: 120)
        let both = sink.headerBlocks(name: long, size: limit + 1, isDir: false, executable: false)
        #expect(both.count == 3 * 512)
        let record = String(decoding: both[512..<1024], as: UTF8.self)
        #expect(record.contains(" path=\(long)\n") && record.contains(" size=8589934592\n"))
        _ = try? sink.finish()
    }

    static func run(_ tool: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
