import Foundation
import SousBasics
import Testing

@Suite struct TextTests {
    @Test("JSON string literals parse back to the same string with JSONSerialization")
    func jsonRoundTrip() throws {
        let samples = ["", "plain", "quote \" backslash \\ slash /", "lines\n\r\t", "\u{0}\u{1}\u{1f}", "ünïcødé 🚀"]
        for s in samples {
            let literal = JSONText.quoted(s)
            let parsed = try JSONSerialization.jsonObject(with: Data(literal.utf8), options: [.fragmentsAllowed]) as? String
            #expect(parsed == s, "\(literal)")
        }
        #expect(JSONText.quoted("\u{1}") == "\"\\u0001\"")
    }

    @Test("XML escaping round-trips through unescape and through Foundation's XML parser")
    func xmlRoundTrip() throws {
        let samples = ["a&b<c>d\"e'f", "key\r\nwith lines", "déjà 🚀", "&amp; literal"]
        for s in samples {
            let escaped = XMLText.escape(s)
            #expect(XMLText.unescape(escaped) == s)
            #expect(!escaped.contains("\n") && !escaped.contains("<c>"))
        }
        #expect(XMLText.unescape("&#65;&#x42;&#X43;&lt;") == "ABC<")
        #expect(XMLText.unescape("&unknown; & &#xZZ;") == "&unknown; & &#xZZ;")
    }
}

@Suite struct FileTests {
    private func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "sous-basics-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test("FileStatus reads kind, size, permissions; follows links unless asked not to")
    func status() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Data("hello".utf8).write(to: URL(fileURLWithPath: d + "/f"))
        chmod(d + "/f", 0o640)
        symlink(d + "/f", d + "/link")
        symlink(d + "/missing", d + "/dangling")
        let f = try #require(FileStatus(d + "/f"))
        #expect(f.isFile && f.size == 5 && f.permissions == 0o640 && f.modifiedNs > 0)
        #expect(FileStatus(d + "/link")?.isFile == true)
        #expect(FileStatus(d + "/link", followLinks: false)?.kind == .symbolicLink)
        #expect(FileStatus(d + "/dangling") == nil)
        #expect(FileStatus(d)?.isDirectory == true)
        #expect(FileStatus(d + "/nope") == nil)
    }

    @Test("the folder walk lists regular files sorted by relative path, through links, skipping others")
    func walk() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try FileManager.default.createDirectory(atPath: d + "/b/c", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: d + "/empty", withIntermediateDirectories: true)
        for (p, n) in [("a", 1), ("b/c/d", 3), ("b/x", 2)] {
            try Data(count: n).write(to: URL(fileURLWithPath: d + "/" + p))
        }
        symlink(d + "/a", d + "/b/link")
        mkfifo(d + "/fifo", 0o600)
        let files = FileTree.regularFiles(under: d)
        #expect(files.map(\.path) == ["a", "b/c/d", "b/link", "b/x"])
        #expect(files.map(\.status.size) == [1, 3, 1, 2])
        #expect(FileTree.regularFiles(under: d + "/nope").isEmpty)
    }

    @Test("writeAll writes everything through a pipe smaller than the data, and names the errno of a closed one")
    func writeAllPipe() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let readEnd = fds[0]
        let payload = [UInt8]((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let reader = Thread {
            var got = [UInt8]()
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(readEnd, &buf, buf.count)
                if n <= 0 { break }
                got += buf[0..<n]
            }
            close(readEnd)
            ReadBack.shared.set(got)
        }
        reader.start()
        let err = payload.withUnsafeBytes { writeAll(fds[1], $0) }
        close(fds[1])
        #expect(err == nil)
        #expect(ReadBack.shared.wait() == payload)

        var closed: [Int32] = [0, 0]
        #expect(pipe(&closed) == 0)
        close(closed[0])
        signal(SIGPIPE, SIG_IGN)
        let e = payload.withUnsafeBytes { writeAll(closed[1], $0) }
        close(closed[1])
        #expect(e == EPIPE)
    }
}

/// Hands the reader thread's bytes to the test (a condition, not a sleep).
private final class ReadBack: @unchecked Sendable {
    static let shared = ReadBack()
    private let condition = NSCondition()
    private var value: [UInt8]?
    func set(_ v: [UInt8]) {
        condition.lock()
        value = v
        condition.broadcast()
        condition.unlock()
    }
    func wait() -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        while value == nil { condition.wait() }
        return value!
    }
}

@Suite struct DurableFileTests {
    @Test("publish moves a written file into place with its content, and refuses a missing one naming it")
    func publishKeepsTheContent() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sous-publish-\(UUID().uuidString)").path
        try DurableFile.makeFolders(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/blob.incomplete"
        let bytes = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        let failed = bytes.withUnsafeBytes { writeAll(fd, $0) }
        #expect(failed == nil)
        close(fd)
        try DurableFile.publish(path, as: dir + "/blob")
        #expect(FileManager.default.contents(atPath: dir + "/blob") == Data(bytes))
        #expect(!FileManager.default.fileExists(atPath: path))
        let missing = #expect(throws: FileWriteError.self) { try DurableFile.publish(path, as: dir + "/other") }
        #expect(missing?.description.contains(path) == true)
    }
}
