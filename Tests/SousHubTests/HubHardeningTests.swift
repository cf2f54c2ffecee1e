import Foundation
import SousHTTP
import SousTestSupport
import Testing

@testable import SousHub

/// A hostile or failing Hub: names that escape, a cache tampered with, a `local_dir` with a link leading
/// out, and listing calls that fail before they succeed.
@Suite("Hub listing: hostile names and faults")
struct HubHardeningTests {
    /// Sets the listing faults of `repo` on the test Hub (see Tests/python/hub_server.py).
    func inject(_ f: HubFixture, repo: String, api: [String], then: Int? = nil) async throws {
        var s = f.endpoint.absoluteString + "/_faults?repo=\(repo)&api=\(api.joined(separator: ","))"
        if let then { s += "&then=\(then)" }
        let r = try await HTTPClient.shared.send(HTTPRequest(url: URL(string: s)!))
        #expect(r.status == 200)
    }

    func apiCalls(_ f: HubFixture, _ repo: String) async throws -> Int {
        try await f.stats().hub.filter { ($0["path"] as? String)?.hasPrefix("/api/models/\(repo)/") == true }.count
    }

    @Test func hostileNamesInTheListingAreNeverCached() async throws {
        let f = try await HubFixture()
        var req = f.request("org/hostile")
        req.allowPatterns = ["ok.txt", "sub/fine.txt"]
        let snap = try await f.client.snapshot(req)
        #expect(snap.files == ["ok.txt", "sub/fine.txt"])
        let cache = HubCache(root: f.cache(), repoID: "org/hostile", type: .model)
        let text = (try? String(contentsOfFile: cache.treeCache(snap.commit), encoding: .utf8)) ?? ""
        #expect(!text.contains("../x") && !text.contains("/abs/y") && !text.contains("a/../../z"), "\(text)")
        // Offline, the same request answers from the cache with the same files.
        req.offline = true
        #expect(try await f.client.snapshot(req).files == ["ok.txt", "sub/fine.txt"])
        // Selecting a hostile name is refused, online and offline.
        req.offline = false
        req.allowPatterns = nil
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(req) }
        #expect(error.kind == .unsafePath)
    }

    @Test func aTamperedCachedListingIsCheckedWhenReadBack() async throws {
        let f = try await HubFixture()
        var req = f.request("org/tiny")
        req.allowPatterns = ["*.json"]
        let snap = try await f.client.snapshot(req)
        let cache = HubCache(root: f.cache(), repoID: "org/tiny", type: .model)
        // The cached listing now names a file outside the snapshot, and that file "exists".
        var tree = try #require(cache.readTreeCache(snap.commit))
        tree["../escape.txt"] = tree["config.json"]
        try FileManager.default.removeItem(atPath: cache.treeCache(snap.commit))
        try cache.writeTreeCache(snap.commit, tree)
        try Data("planted".utf8).write(to: URL(fileURLWithPath: cache.snapshotDir(snap.commit) + "/../escape.txt"))
        let local = f.dir.appendingPathComponent("out/local").path
        req.offline = true
        req.localDir = local
        req.allowPatterns = nil
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(req) }
        #expect(error.kind == .unsafePath)
        #expect(error.subject == "../escape.txt")
        #expect(!FileManager.default.fileExists(atPath: f.dir.appendingPathComponent("out/escape.txt").path))
    }

    @Test func theCopyIntoLocalDirNeverWritesThroughALinkLeadingOut() async throws {
        let f = try await HubFixture()
        let local = f.dir.appendingPathComponent("local").path
        let outside = f.dir.appendingPathComponent("outside").path
        try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        #expect(symlink(outside, local + "/sub") == 0)
        var req = f.request("org/tiny")
        req.localDir = local
        req.allowPatterns = ["*.json", "sub/"]
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(req) }
        #expect(error.kind == .unsafePath)
        #expect(error.subject == "sub/dir/notes.txt")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        // A link that stays inside the folder is followed.
        try FileManager.default.removeItem(atPath: local + "/sub")
        try FileManager.default.createDirectory(atPath: local + "/real-sub", withIntermediateDirectories: true)
        #expect(symlink(local + "/real-sub", local + "/sub") == 0)
        let snap = try await f.client.snapshot(req)
        #expect(try String(contentsOfFile: snap.path + "/real-sub/dir/notes.txt", encoding: .utf8) == "hello")
    }

    @Test func theListingIsRetriedOn5xxThrottlingAndResets() async throws {
        let f = try await HubFixture()
        try await inject(f, repo: "org/full", api: ["503", "reset", "429"])
        let snap = try await f.client.snapshot(f.request("org/full"))
        #expect(snap.files == ["config.json", "model.safetensors"])
        #expect(try await apiCalls(f, "org/full") == 4)
    }

    @Test func a5xxAfterEveryRetryFallsBackOnACompleteCachedSnapshot() async throws {
        let f = try await HubFixture()
        let first = try await f.client.snapshot(f.request("org/full"))
        try await inject(f, repo: "org/full", api: [], then: 503)
        let again = try await f.client.snapshot(f.request("org/full"))
        #expect(again.commit == first.commit)
        #expect(again.files == first.files)
        #expect(again.warnings.contains { $0.contains("HTTP 503") && $0.contains("cached snapshot") }, "\(again.warnings)")
        // Without a cached snapshot the error says what the Hub answered.
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(f.request("org/full", cache: f.cache("empty"))) }
        #expect(error.kind == .server)
        #expect(error.description.contains("HTTP 503"))
    }

    @Test func aFinishedBlobWriterRefusesLateBytes() throws {
        // A cancelled transfer's thread may still call the sink after the download finished the file and is
        // about to close its descriptor: those bytes are refused, not written.
        let path = NSTemporaryDirectory() + "sous-blobwriter-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(path) }
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        let writer = try BlobWriter(nil, fd: fd, path: path, at: 0)
        let bytes = [UInt8](repeating: 7, count: 5000)
        #expect(bytes.withUnsafeBytes { writer.write($0) } == nil)
        #expect(writer.finish() == nil)
        #expect(bytes.withUnsafeBytes { writer.write($0) } == ECANCELED)
        #expect(HubClient.fileSize(path) == 5000)
    }
}
