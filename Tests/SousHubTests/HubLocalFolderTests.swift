import Foundation
import SousCrypto
import SousTestSupport
import Testing

@testable import SousHub

/// A generated model folder and an empty cache in a fresh temporary folder (under `base`, default the
/// system's temporary folder).
private final class LocalFolderFixture {
    let dir: URL
    let folder: String
    let cache: String
    /// Nothing listens there: any attempt to reach the Hub fails at once.
    let client = HubClient(endpoint: URL(string: "http://127.0.0.1:9")!)

    static let files: [String: String] = [
        "config.json": "{\"hidden_size\": 8}",
        "model.safetensors": String(repeating: "weights-", count: 4096),
        "sub/dir/notes.txt": "hello",
        "tokenizer.json": "{\"vocab\": {}}",
    ]

    init(base: String? = nil, name: String = "tiny-model") throws {
        if let base {
            dir = URL(fileURLWithPath: base).appendingPathComponent("sous-local-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } else {
            dir = try TestPaths.makeTemporaryDirectory("sous-local")
        }
        folder = dir.appendingPathComponent(name).path
        cache = dir.appendingPathComponent("cache").path
        for (path, text) in Self.files { try write(path, text) }
        // Left out: dotfiles and dot-folders at any depth.
        try write(".git/HEAD", "ref: refs/heads/main")
        try write(".cache/huggingface/download/x.metadata", "x")
        try write("sub/.hidden", "secret")
        try write(".env", "TOKEN=x")
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// Writes a new file in place of `path` (as editors do).
    func write(_ path: String, _ text: String) throws {
        let url = URL(fileURLWithPath: folder + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
    }

    /// Rewrites the existing file `path` itself (truncate and write, as `cp new old` does).
    func writeInPlace(_ path: String, _ text: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/" + path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    func request(repoID: String? = nil, cache: String? = nil) -> HubSnapshotRequest {
        HubSnapshotRequest(repoID: repoID ?? folder, token: nil, cacheDir: cache ?? self.cache, offline: true)
    }
}

/// huggingface_hub's `scan_cache_dir` of `cache`: the refs and revisions (file → blob name) of `repo`.
private func scanCache(_ cache: String, repo: String) async throws -> (refs: [String: String], revisions: [String: [String: String]]) {
    let out = try #require(try await hfPeer(["scan", cache], env: [:]) as? [String: Any])
    #expect(out["warnings"] as? [String] == [])
    let r = try #require((out["repos"] as? [String: Any])?["model:\(repo)"] as? [String: Any], "\(out)")
    return (r["refs"] as? [String: String] ?? [:], r["revisions"] as? [String: [String: String]] ?? [:])
}

/// huggingface_hub's `snapshot_download(local_files_only=True)` of `repo` in `cache`: its path and each
/// file's sha256 read through `hf_hub_download(local_files_only=True)`.
private func readBack(_ cache: String, repo: String) async throws -> (path: String, files: [String: String]) {
    let out = try #require(
        try await hfPeer(["offline", repo], env: ["HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": cache]) as? [String: Any])
    return (out["path"] as? String ?? "", out["files"] as? [String: String] ?? [:])
}

private func sha256(_ text: String) -> String { Digest.sha256(Data(text.utf8)).hexString }

/// The commit as docs/hub.md defines it: sha256 of `<sha256>  <path>\n` lines sorted by path, 40 hex digits.
private func expectedCommit(_ files: [String: String]) -> String {
    let lines = files.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        .map { "\(sha256(files[$0]!))  \($0)\n" }
    return String(sha256(lines.joined()).prefix(40))
}

private func inode(_ path: String) -> (dev: UInt64, ino: UInt64)? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return (UInt64(st.st_dev), UInt64(st.st_ino))
}

/// A loopback port nothing listens on (bound once, then closed).
private func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    try #require(bound)
    return Int(UInt16(bigEndian: addr.sin_port))
}

private let sharedModel = TestPaths.shared("models/stories260K-hf")

@Suite("A local folder as the repository id")
struct HubLocalFolderTests {
    @Test func takesTheFolderInLikeADownload() async throws {
        let f = try LocalFolderFixture()
        let snap = try await f.client.snapshot(f.request())  // offline: a local folder needs no Hub
        let storage = f.cache + "/models--local--tiny-model"
        #expect(snap.localFolder == f.folder)
        #expect(snap.files == LocalFolderFixture.files.keys.sorted())
        #expect(snap.commit == expectedCommit(LocalFolderFixture.files))
        #expect(snap.path == storage + "/snapshots/" + snap.commit)
        #expect(snap.totalBytes == UInt64(LocalFolderFixture.files.values.reduce(0) { $0 + $1.utf8.count }))
        #expect(snap.downloadedBytes == 0)
        #expect(snap.warnings.isEmpty)
        #expect(try String(contentsOfFile: storage + "/refs/main", encoding: .utf8) == snap.commit)
        #expect(FileManager.default.fileExists(atPath: f.cache + "/CACHEDIR.TAG"))

        // Links relative to blobs named by the content's sha256, as the download path writes them.
        for (path, text) in LocalFolderFixture.files {
            let link = try FileManager.default.destinationOfSymbolicLink(atPath: snap.path + "/" + path)
            #expect(link == HubCache.relativeBlobTarget(file: path, etag: sha256(text)), "\(path)")
            let blob = storage + "/blobs/" + sha256(text)
            #expect(try String(contentsOfFile: blob, encoding: .utf8) == text)
            // Same file system: the blob is a hard link of the folder's file, not a copy.
            let a = try #require(inode(blob))
            let b = try #require(inode(f.folder + "/" + path))
            #expect(a.dev == b.dev && a.ino == b.ino, "\(path)")
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: snap.path + "/sub/dir/notes.txt").hasPrefix("../../../../blobs/"))
        let entries = try FileManager.default.subpathsOfDirectory(atPath: storage)
        #expect(!entries.contains { $0.contains(".git") || $0.contains(".hidden") || $0.contains(".env") || $0.hasSuffix(".incomplete") })

        // Unchanged: the same commit again, and the commit is known without writing anything.
        let again = try await f.client.snapshot(f.request())
        #expect(again.commit == snap.commit)
        #expect(try HubClient.localFolderCommit(f.request()) == snap.commit)
        #expect(try HubClient.localFolderCommit(f.request(repoID: "org/name")) == nil)

        // huggingface_hub reads the result as one of its own downloads.
        let scan = try await scanCache(f.cache, repo: "local/tiny-model")
        #expect(scan.refs == ["main": snap.commit])
        #expect(scan.revisions == [snap.commit: LocalFolderFixture.files.mapValues(sha256)])
        let peer = try await readBack(f.cache, repo: "local/tiny-model")
        #expect(peer.path == snap.path)
        #expect(peer.files == LocalFolderFixture.files.mapValues(sha256))
    }

    @Test func aChangedFileGivesANewCommit() async throws {
        let f = try LocalFolderFixture()
        let first = try await f.client.snapshot(f.request())
        try f.write("config.json", "{\"hidden_size\": 16}")
        var now = LocalFolderFixture.files
        now["config.json"] = "{\"hidden_size\": 16}"
        #expect(try HubClient.localFolderCommit(f.request()) == expectedCommit(now))
        let second = try await f.client.snapshot(f.request())
        #expect(second.commit == expectedCommit(now))
        #expect(second.commit != first.commit)
        #expect(try String(contentsOfFile: second.path + "/config.json", encoding: .utf8) == "{\"hidden_size\": 16}")
        // The earlier snapshot stays whole; refs/main follows the folder.
        #expect(try String(contentsOfFile: first.path + "/config.json", encoding: .utf8) == "{\"hidden_size\": 8}")
        #expect(try String(contentsOfFile: f.cache + "/models--local--tiny-model/refs/main", encoding: .utf8) == second.commit)
        // A new file, then a removed one: each a new commit; back to the first files, back to the first commit.
        try f.write("extra.txt", "x")
        let added = try #require(try HubClient.localFolderCommit(f.request()))
        #expect(added != second.commit)
        try FileManager.default.removeItem(atPath: f.folder + "/extra.txt")
        try f.write("config.json", LocalFolderFixture.files["config.json"]!)
        #expect(try HubClient.localFolderCommit(f.request()) == first.commit)
        // A dotfile changing changes nothing.
        try f.write(".git/HEAD", "ref: refs/heads/other")
        #expect(try HubClient.localFolderCommit(f.request()) == first.commit)

        // Two files of the same content share a blob, a hard link to the first. When that one is rewritten in
        // place, the blob changes with it; the next take sees that the blob no longer matches its name and
        // replaces it, so the other file keeps its content.
        try f.write("copy-a.txt", "same")
        try f.write("copy-b.txt", "same")
        _ = try await f.client.snapshot(f.request())
        try f.writeInPlace("copy-a.txt", "other")
        let after = try await f.client.snapshot(f.request())
        #expect(try String(contentsOfFile: after.path + "/copy-a.txt", encoding: .utf8) == "other")
        #expect(try String(contentsOfFile: after.path + "/copy-b.txt", encoding: .utf8) == "same")
        #expect(try String(contentsOfFile: f.cache + "/models--local--tiny-model/blobs/" + sha256("same"), encoding: .utf8) == "same")
    }

    @Test func patternsSelectTheFilesAndTheCommit() async throws {
        let f = try LocalFolderFixture()
        var req = f.request()
        req.allowPatterns = ["*.json"]
        req.ignorePatterns = ["tokenizer*"]
        let snap = try await f.client.snapshot(req)
        #expect(snap.files == ["config.json"])
        #expect(snap.commit == expectedCommit(["config.json": LocalFolderFixture.files["config.json"]!]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: snap.path) == ["config.json"])
        var folderOnly = f.request()
        folderOnly.allowPatterns = ["sub/"]
        #expect(try await f.client.snapshot(folderOnly).files == ["sub/dir/notes.txt"])
        var none = f.request()
        none.allowPatterns = ["*.bin"]
        let empty = try await f.client.snapshot(none)
        #expect(empty.files.isEmpty)
        #expect(empty.warnings.contains { $0.contains("matched the allow/ignore patterns") })
        // Both weight formats: the same warning as a download.
        try f.write("pytorch_model.bin", "old weights")
        let both = try await f.client.snapshot(f.request())
        #expect(both.warnings.contains { $0.contains("*.safetensors") && $0.contains("*.bin") })
    }

    @Test func linksAreFollowedOnlyInsideTheFolder() async throws {
        let f = try LocalFolderFixture()
        try f.write("../outside.txt", "not part of the model")
        #expect(symlink("config.json", f.folder + "/config-link.json") == 0)
        let inside = try await f.client.snapshot(f.request())
        #expect(inside.files.contains("config-link.json"))
        #expect(try String(contentsOfFile: inside.path + "/config-link.json", encoding: .utf8) == LocalFolderFixture.files["config.json"])

        #expect(symlink("../../outside.txt", f.folder + "/sub/escape.txt") == 0)
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(f.request()) }
        #expect(error.kind == .localFolder)
        #expect(error.subject == "sub/escape.txt")
        #expect(error.description.contains("outside the folder"), "\(error)")
        #expect(error.description.contains(f.folder))
        let checkError = try #require(throws: HubError.self) { try HubClient.localFolderCommit(f.request()) }
        #expect(checkError.kind == .localFolder)
        let blobs = try FileManager.default.contentsOfDirectory(atPath: f.cache + "/models--local--tiny-model/blobs")
        #expect(!blobs.contains(sha256("not part of the model")))
        // Left out by a pattern, the link is no obstacle.
        var ignoring = f.request()
        ignoring.ignorePatterns = ["*/escape.txt"]
        #expect(try await f.client.snapshot(ignoring).files.contains("sub/dir/notes.txt"))
        // A link to a folder, even inside, is not followed.
        try FileManager.default.removeItem(atPath: f.folder + "/sub/escape.txt")
        #expect(symlink("dir", f.folder + "/sub/alias") == 0)
        let folderLink = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(f.request()) }
        #expect(folderLink.subject == "sub/alias")
    }

    @Test func unsafeNamesAndMissingFoldersAreRefused() async throws {
        let f = try LocalFolderFixture()
        try f.write("weights\\evil.bin", "x")
        let unsafe = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(f.request()) }
        #expect(unsafe.kind == .unsafePath)
        #expect(unsafe.subject == "weights\\evil.bin")
        try FileManager.default.removeItem(atPath: f.folder + "/weights\\evil.bin")

        let missing = try await #require(throws: HubError.self) {
            _ = try await f.client.snapshot(f.request(repoID: f.folder + "-nope"))
        }
        #expect(missing.kind == .localFolder)
        #expect(missing.description.contains("Cannot take the local folder \(f.folder)-nope"), "\(missing)")
        let file = try await #require(throws: HubError.self) {
            _ = try await f.client.snapshot(f.request(repoID: f.folder + "/config.json"))
        }
        #expect(file.description.contains("not a folder"))

        // A commit sha as the revision pins the folder's content.
        var pinned = f.request()
        pinned.revision = expectedCommit(LocalFolderFixture.files)
        #expect(try await f.client.snapshot(pinned).commit == pinned.revision)
        pinned.revision = String(repeating: "a", count: 40)
        let moved = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(pinned) }
        #expect(moved.kind == .revisionNotFound)
    }

    @Test func localDirGetsPlainCopies() async throws {
        let f = try LocalFolderFixture()
        var req = f.request()
        req.localDir = f.dir.appendingPathComponent("out").path
        let snap = try await f.client.snapshot(req)
        #expect(snap.path == req.localDir)
        for (path, text) in LocalFolderFixture.files {
            #expect(!isSymlink(snap.path + "/" + path))
            #expect(try String(contentsOfFile: snap.path + "/" + path, encoding: .utf8) == text)
        }
        #expect(FileManager.default.fileExists(atPath: f.cache + "/models--local--tiny-model/snapshots/" + snap.commit + "/config.json"))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/shm") && inode("/dev/shm")?.dev != inode(NSTemporaryDirectory())?.dev))
    func anotherFileSystemGetsCopies() async throws {
        let f = try LocalFolderFixture(base: "/dev/shm")
        let cache = try TestPaths.makeTemporaryDirectory("sous-local-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let snap = try await f.client.snapshot(f.request(cache: cache.path))
        #expect(snap.commit == expectedCommit(LocalFolderFixture.files))
        for (path, text) in LocalFolderFixture.files {
            let blob = cache.path + "/models--local--tiny-model/blobs/" + sha256(text)
            #expect(try String(contentsOfFile: blob, encoding: .utf8) == text)
            #expect(inode(blob)?.ino != inode(f.folder + "/" + path)?.ino)
        }
        let peer = try await readBack(cache.path, repo: "local/tiny-model")
        #expect(peer.files == LocalFolderFixture.files.mapValues(sha256))
    }

    @Test func aSnapshotFolderOfAHubCacheIsTakenAsIs() async throws {
        let f = try LocalFolderFixture()
        let first = try await f.client.snapshot(f.request())
        let other = f.dir.appendingPathComponent("other-cache").path
        let again = try await f.client.snapshot(f.request(repoID: first.path, cache: other))
        #expect(again.commit == first.commit)
        #expect(again.files == first.files)
        #expect(again.path == other + "/models--local--\(first.commit)/snapshots/\(first.commit)")
    }

    @Test func pathFormsAndCacheNames() throws {
        let env = ["HOME": "/home/u"]
        func path(_ s: String) -> String? { LocalFolder.path(of: s, env: env, currentDirectory: "/work/dir") }
        #expect(path("/models/x/") == "/models/x")
        #expect(path("./models/x") == "/work/dir/models/x")
        #expect(path("../m/./a/../b") == "/work/m/b")
        #expect(path("~/m") == "/home/u/m")
        #expect(path("org/name") == nil)
        #expect(path("name") == nil)
        #expect(path("~user/m") == nil)
        func name(_ s: String) throws -> String { try LocalFolder(path: s).cacheRepoID }
        let dir = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (folder, expected) in [
            "stories260K-hf": "local/stories260K-hf", "my model (v2)": "local/my-model-v2", "..a--b..c": "local/a-b.c",
            "été": "local/t", "---": "local/folder", String(repeating: "x", count: 120): "local/" + String(repeating: "x", count: 96),
        ] {
            let p = dir.appendingPathComponent(folder).path
            try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
            #expect(try name(p) == expected, "\(folder)")
            #expect(throws: Never.self) { try HubClient.validate(repoID: try name(p)) }
        }
    }

    @Test(.enabled(if: sharedModel != nil, "needs ../shared/models/stories260K-hf"))
    func theSharedStoriesModel() async throws {
        let model = try #require(sharedModel).path
        let dir = try TestPaths.makeTemporaryDirectory("sous-local-stories")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = dir.appendingPathComponent("hub").path
        let client = HubClient(endpoint: URL(string: "http://127.0.0.1:9")!)
        let snap = try await client.snapshot(HubSnapshotRequest(repoID: model, token: nil, cacheDir: cache, offline: true))
        let names = try FileManager.default.contentsOfDirectory(atPath: model).filter { !$0.hasPrefix(".") }.sorted()
        #expect(snap.files == names)
        #expect(snap.files.contains("model.safetensors"))
        var digests: [String: String] = [:]
        for name in names { digests[name] = try sha256OfFile(atPath: model + "/" + name).hexString }
        let scan = try await scanCache(cache, repo: "local/stories260K-hf")
        #expect(scan.refs == ["main": snap.commit])
        #expect(scan.revisions == [snap.commit: digests])
        let peer = try await readBack(cache, repo: "local/stories260K-hf")
        #expect(peer.path == snap.path)
        #expect(peer.files == digests)
        #expect(try await client.snapshot(HubSnapshotRequest(repoID: model, token: nil, cacheDir: cache, offline: true)).commit == snap.commit)
    }
}

@Suite("Errors when the Hub cannot be used")
struct HubOfflineErrorTests {
    @Test func anUnreachableHubSaysWhatToDo() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-unreachable")
        defer { try? FileManager.default.removeItem(at: dir) }
        let endpoint = "http://127.0.0.1:\(try closedPort())"
        let cache = dir.appendingPathComponent("hub").path
        let client = HubClient(endpoint: URL(string: endpoint)!)
        let req = HubSnapshotRequest(repoID: "org/tiny", token: nil, cacheDir: cache, offline: false, maxRetries: 0)
        let error = try await #require(throws: HubError.self) { _ = try await client.snapshot(req) }
        #expect(error.kind == .unreachable)
        let text = error.description
        #expect(text.hasPrefix("Cannot reach the Hugging Face Hub at \(endpoint) for org/tiny ("), "\(text)")
        #expect(text.contains("To use a mirror set HF_ENDPOINT=https://your-mirror"))
        #expect(text.contains("set HF_HUB_OFFLINE=1 (cache: \(cache))"))
        #expect(text.contains("pass a local folder as the model id (-p model_id=/path/to/snapshot)"))
        // The revision check of the step sees the same kind (and treats it as "keep the recorded snapshot").
        let check = try await #require(throws: HubError.self) {
            _ = try await client.resolveCommit(repoID: "org/tiny", revision: "main", token: nil)
        }
        #expect(check.kind == .unreachable)
    }

    @Test func offlineWithAnEmptyCacheSaysWhatToDo() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-offline")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = dir.appendingPathComponent("hub").path
        let client = HubClient(endpoint: URL(string: "http://127.0.0.1:\(try closedPort())")!)
        let req = HubSnapshotRequest(repoID: "org/tiny", token: nil, cacheDir: cache, offline: true)
        let error = try await #require(throws: HubError.self) { _ = try await client.snapshot(req) }
        #expect(error.kind == .notCached)
        let text = error.description
        #expect(text.hasPrefix("org/tiny at revision 'main' is not (completely) in the Hub cache \(cache) (HF_HUB_OFFLINE is set)"), "\(text)")
        #expect(text.contains("unset HF_HUB_OFFLINE"))
        #expect(text.contains("HF_ENDPOINT=https://your-mirror"))
        #expect(text.contains("pass a local folder as the model id"))
    }
}
