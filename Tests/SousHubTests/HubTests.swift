import Foundation
import Synchronization
import SousHTTP
import SousTestSupport
import Testing

@testable import SousHub

// MARK: - Fixtures

/// The repos served by Tests/python/hub_server.py in these tests.
let hubSpec = """
    {"repos": [
      {"id": "org/tiny", "tags": ["v1"], "files": [
        {"path": "config.json", "text": "{\\"hidden_size\\": 8}"},
        {"path": "sub/dir/notes.txt", "text": "hello"},
        {"path": "model.safetensors", "size": 300000, "seed": 1, "lfs": true},
        {"path": "weights/part-1.bin", "size": 5000, "seed": 2, "lfs": true}]},
      {"id": "org/resume", "files": [{"path": "big.safetensors", "size": 3000001, "seed": 3, "lfs": true, "cut": 1}]},
      {"id": "org/retry", "files": [{"path": "big.safetensors", "size": 200000, "seed": 4, "lfs": true, "cut": 2}]},
      {"id": "org/norange", "files": [
        {"path": "big.safetensors", "size": 100000, "seed": 11, "lfs": true, "cut": 1, "norange": true}]},
      {"id": "org/corrupt", "files": [{"path": "bad.safetensors", "size": 1000, "seed": 5, "lfs": true, "corrupt": true}]},
      {"id": "org/gated", "gated": true, "files": [{"path": "config.json", "text": "{}"}]},
      {"id": "org/private", "private": true, "files": [{"path": "config.json", "text": "{}"}]},
      {"id": "org/ghost", "files": [{"path": "config.json", "text": "{}"}], "ghost": ["missing.txt"]},
      {"id": "org/evil", "files": [{"path": "ok.txt", "text": "ok"}, {"path": "../escape.txt", "text": "x"}]},
      {"id": "org/hostile", "files": [{"path": "ok.txt", "text": "ok"}, {"path": "sub/fine.txt", "text": "fine"}],
       "extra_names": ["../x", "/abs/y", "a/../../z", "sub/./w", "back\\\\slash", ""]},
      {"id": "org/mixed", "files": [
        {"path": "model.safetensors", "size": 100, "seed": 6, "lfs": true},
        {"path": "pytorch_model.bin", "size": 100, "seed": 7, "lfs": true}]},
      {"id": "org/badtext", "files": [{"path": "notes.txt", "text": "the server flips these bytes", "corrupt": true}]},
      {"id": "org/order", "files": [
        {"path": "a.txt", "text": "aa"},
        {"path": "b.safetensors", "size": 30000, "seed": 9, "lfs": true},
        {"path": "c.json", "text": "{\\"c\\": 1}"},
        {"path": "d.bin", "size": 3000, "seed": 10, "lfs": true}]},
      {"id": "org/full", "files": [
        {"path": "config.json", "text": "{}"},
        {"path": "model.safetensors", "size": 50000, "seed": 8, "lfs": true}]}
    ]}
    """

/// A running hub_server.py plus a fresh temporary folder.
final class HubFixture {
    let dir: URL
    let server: TestServerProcess
    let endpoint: URL
    let client: HubClient

    init() async throws {
        dir = try TestPaths.makeTemporaryDirectory("sous-hub")
        let spec = dir.appendingPathComponent("spec.json")
        try Data(hubSpec.utf8).write(to: spec)
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/hub_server.py").path
        server = try await TestServerProcess.start(executable: TestPaths.python, arguments: [script, spec.path])
        endpoint = URL(string: "http://127.0.0.1:\(server.port)")!
        client = HubClient(endpoint: endpoint)
    }

    func cache(_ name: String = "cache") -> String { dir.appendingPathComponent(name).path }

    func request(_ repo: String, cache: String? = nil, token: String? = nil) -> HubSnapshotRequest {
        HubSnapshotRequest(repoID: repo, token: token, cacheDir: cache ?? self.cache(), offline: false)
    }

    /// The server's request log.
    func stats() async throws -> (storage: [[String: Any]], hub: [[String: Any]]) {
        let data = try await HTTPClient.shared.send(HTTPRequest(url: endpoint.appendingPathComponent("_stats"))).body
        let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        return (obj["storage"] as? [[String: Any]] ?? [], obj["hub"] as? [[String: Any]] ?? [])
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(at: dir)
    }
}

/// Runs Tests/python/hf_peer.py to completion on a GCD thread (keeping the cooperative pool free);
/// returns the JSON printed on its last line.
func hfPeer(_ args: [String], env: [String: String], stdin: Data? = nil) async throws -> Any {
    let result = await withCheckedContinuation { (cont: CheckedContinuation<Result<JSONBox, any Error>, Never>) in
        DispatchQueue.global().async {
            cont.resume(returning: Result { JSONBox(value: try hfPeerBlocking(args, env: env, stdin: stdin)) })
        }
    }
    return try result.get().value
}

/// A JSON value handed across threads. @unchecked Sendable: immutable Foundation JSON objects.
struct JSONBox: @unchecked Sendable {
    let value: Any
}

func hfPeerBlocking(_ args: [String], env: [String: String], stdin: Data?) throws -> Any {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [TestPaths.python, TestPaths.packageRoot.appendingPathComponent("Tests/python/hf_peer.py").path] + args
    var environment = ProcessInfo.processInfo.environment
    for key in environment.keys where key.hasPrefix("HF_") || key.hasPrefix("HUGGING") { environment[key] = nil }
    environment["HF_HUB_DISABLE_TELEMETRY"] = "1"
    environment["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    let out = Pipe()
    let input = Pipe()
    p.standardOutput = out
    p.standardError = out
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard p.terminationStatus == 0, let last = text.split(separator: "\n").last,
        let obj = try? JSONSerialization.jsonObject(with: Data(last.utf8))
    else {
        throw PeerError(message: "hf_peer.py \(args) failed (\(p.terminationStatus)):\n\(text.suffix(3000))")
    }
    return obj
}

/// Every entry under `root`: relative path → "dir", "link -> target" or "file <size> <first bytes>".
func tree(_ root: String) throws -> [String: String] {
    var out: [String: String] = [:]
    let fm = FileManager.default
    guard let walker = fm.enumerator(atPath: root) else { return out }
    for case let rel as String in walker {
        let path = root + "/" + rel
        if let target = try? fm.destinationOfSymbolicLink(atPath: path) {
            out[rel] = "link -> \(target)"
        } else {
            var isDir: ObjCBool = false
            _ = fm.fileExists(atPath: path, isDirectory: &isDir)
            if isDir.boolValue {
                out[rel] = "dir"
            } else {
                let data = fm.contents(atPath: path) ?? Data()
                out[rel] = "file \(data.count) \(data.prefix(64).base64EncodedString())"
            }
        }
    }
    return out
}

struct PeerError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

func isSymlink(_ path: String) -> Bool { (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil }

// MARK: - Unit tests

@Suite("Hub patterns and environment")
struct HubPatternTests {
    @Test func fnmatchAgreesWithPython() async throws {
        let names = ["config.json", "data/sub/x.json", "model.safetensors", "model-00001-of-00002.safetensors",
                     "a[b].txt", "pytorch_model.bin", "Tokenizer.JSON", "onnx/model.onnx", "x", "[", "a-c", "b"]
        let patterns = ["*.json", "data/*.json", "*", "?", "model-*-of-*.safetensors", "a[[]b].txt", "[a-c]",
                        "[!a-c]", "*.JSON", "onnx/*", "[", "a[", "*.bin", "[]]", "*/*"]
        var pairs: [[String]] = []
        for n in names { for p in patterns { pairs.append([n, p]) } }
        let expected = try #require(
            try await hfPeer(["fnmatch"], env: [:], stdin: try JSONSerialization.data(withJSONObject: pairs)) as? [Bool])
        for (i, pair) in pairs.enumerated() {
            #expect(HubPattern.matches(pair[0], pair[1]) == expected[i], "\(pair[0]) vs \(pair[1])")
        }
    }

    @Test func filterLikeHuggingfaceHub() {
        let files = ["config.json", "onnx/model.onnx", "onnx/sub/x.json", "model.safetensors", "pytorch_model.bin"]
        #expect(HubPattern.filter(files, allow: ["onnx/"], ignore: nil) == ["onnx/model.onnx", "onnx/sub/x.json"])
        #expect(HubPattern.filter(files, allow: ["*.json"], ignore: nil) == ["config.json", "onnx/sub/x.json"])
        #expect(HubPattern.filter(files, allow: nil, ignore: ["*.bin", "onnx/"]) == ["config.json", "model.safetensors"])
        #expect(HubPattern.filter(files, allow: ["*.json"], ignore: ["onnx\\*"]) == ["config.json"])
        #expect(HubPattern.filter(files, allow: nil, ignore: nil) == files)
    }

    @Test func environmentPrecedence() throws {
        let dir = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenFile = dir.appendingPathComponent("token").path
        try Data("hf_fromfile\n".utf8).write(to: URL(fileURLWithPath: tokenFile))
        #expect(HubEnvironment.token(env: ["HF_TOKEN": "hf_a", "HUGGING_FACE_HUB_TOKEN": "hf_b"]) == "hf_a")
        #expect(HubEnvironment.token(env: ["HUGGING_FACE_HUB_TOKEN": "hf_b", "HF_HOME": dir.path]) == "hf_b")
        #expect(HubEnvironment.token(env: ["HF_HOME": dir.path]) == "hf_fromfile")
        #expect(HubEnvironment.token(env: ["HF_TOKEN_PATH": tokenFile, "HF_HOME": "/nonexistent"]) == "hf_fromfile")
        #expect(HubEnvironment.token(env: ["HF_HOME": "/nonexistent", "HF_TOKEN": "  "]) == nil)
        #expect(HubEnvironment.cacheDir(env: ["HF_HUB_CACHE": "/c", "HF_HOME": "/h"]) == "/c")
        #expect(HubEnvironment.cacheDir(env: ["HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HOME": "/h"]) == "/legacy")
        #expect(HubEnvironment.cacheDir(env: ["HF_HOME": "/h"]) == "/h/hub")
        #expect(HubEnvironment.cacheDir(env: ["XDG_CACHE_HOME": "/x"]) == "/x/huggingface/hub")
        #expect(HubEnvironment.cacheDir(env: ["HOME": "/home/u"]) == "/home/u/.cache/huggingface/hub")
        #expect(HubEnvironment.cacheDir(env: ["HF_HOME": "~/hf", "HOME": "/home/u"]) == "/home/u/hf/hub")
        #expect(HubEnvironment.endpoint(env: ["HF_ENDPOINT": "http://mirror:8080/"]).absoluteString == "http://mirror:8080")
        #expect(HubEnvironment.endpoint(env: [:]).absoluteString == "https://huggingface.co")
        #expect(HubEnvironment.isOffline(env: ["HF_HUB_OFFLINE": "1"]))
        #expect(!HubEnvironment.isOffline(env: ["HF_HUB_OFFLINE": "0"]))
    }

    @Test func cacheLayoutHelpers() {
        #expect(HubCache.relativeBlobTarget(file: "config.json", etag: "e") == "../../blobs/e")
        #expect(HubCache.relativeBlobTarget(file: "a/b/c.bin", etag: "e") == "../../../../blobs/e")
        #expect(HubCache(root: "/c", repoID: "org/name", type: .model).storage == "/c/models--org--name")
        #expect(HubCache(root: "/c", repoID: "org/set", type: .dataset).storage == "/c/datasets--org--set")
        for bad in ["../x", "/etc/passwd", "a/../../b", "a//b", "./a", "a\\b", ""] {
            #expect(!HubCache.isSafeRelativePath(bad), "\(bad)")
        }
        #expect(HubCache.isSafeRelativePath("a/b.c/..d"))
        #expect(HubClient.quote("refs/pr/1", safe: "") == "refs%2Fpr%2F1")
        #expect(HubClient.quote("dir/a b+c.txt", safe: "/") == "dir/a%20b%2Bc.txt")
        #expect(throws: HubError.self) { try HubClient.validate(repoID: "../etc") }
        #expect(throws: HubError.self) { try HubClient.validate(repoID: "a/b/c") }
        #expect(throws: Never.self) { try HubClient.validate(repoID: "meta-llama/Llama-3.2-1B_x.y") }
    }

    @Test func requestDescriptionNeverShowsTheToken() {
        let r = HubSnapshotRequest(repoID: "org/x", token: "hf_supersecret", cacheDir: "/tmp/c", offline: false)
        #expect(!r.description.contains("supersecret"))
        #expect(!String(describing: r).contains("supersecret"))
        #expect(!String(reflecting: r).contains("supersecret"))
        var dumped = ""
        dump(r, to: &dumped)
        #expect(!dumped.contains("supersecret"))
    }
}

// MARK: - Against the Hub-compatible server

@Suite("Hub snapshot download against a loopback Hub")
struct HubSnapshotTests {
    @Test func downloadsIntoTheHuggingfaceCacheLayout() async throws {
        let f = try await HubFixture()
        let reports = ProgressLog()
        let snap = try await f.client.snapshot(f.request("org/tiny", token: "hf_user")) { reports.append($0) }
        let storage = f.cache() + "/models--org--tiny"
        #expect(snap.files == ["config.json", "model.safetensors", "sub/dir/notes.txt", "weights/part-1.bin"])
        #expect(snap.totalBytes == 300000 + 5000 + 5 + 18)
        #expect(snap.downloadedBytes == snap.totalBytes)
        #expect(snap.path == storage + "/snapshots/" + snap.commit)
        #expect(HubCache.isCommitHash(snap.commit))
        #expect(try String(contentsOfFile: storage + "/refs/main", encoding: .utf8) == snap.commit)
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: snap.path + "/weights/part-1.bin")
        #expect(link.hasPrefix("../../../blobs/"))
        #expect(HubCache.isSHA256(String(link.dropFirst("../../../blobs/".count))))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: snap.path + "/sub/dir/notes.txt").hasPrefix("../../../../blobs/"))
        #expect(try String(contentsOfFile: snap.path + "/sub/dir/notes.txt", encoding: .utf8) == "hello")
        #expect(FileManager.default.fileExists(atPath: f.cache() + "/CACHEDIR.TAG"))
        #expect(FileManager.default.fileExists(atPath: storage + "/trees/\(snap.commit).json"))
        let incomplete = try FileManager.default.contentsOfDirectory(atPath: storage + "/blobs").filter { $0.hasSuffix(".incomplete") }
        #expect(incomplete.isEmpty)

        // The token went to the Hub host only, never to the storage host the LFS files redirect to.
        let stats = try await f.stats()
        #expect(stats.storage.count == 2)
        #expect(stats.storage.allSatisfy { $0["auth"] as? Bool == false })
        #expect(stats.hub.filter { ($0["path"] as? String ?? "").hasPrefix("/org/tiny/resolve/") }.allSatisfy { $0["auth"] as? Bool == true })
        // Regular files: one GET each, no HEAD (their blob id and size come from the listing).
        for name in ["config.json", "sub/dir/notes.txt"] {
            let hits = stats.hub.filter { ($0["path"] as? String ?? "").hasSuffix("/" + name) }
            #expect(hits.map { $0["method"] as? String } == ["GET"], "\(name)")
        }

        // Progress: monotonic, ends at the total.
        let last = try #require(reports.all.last)
        #expect(last.bytesDone == snap.totalBytes)
        #expect(last.filesDone == 4 && last.filesTotal == 4)
        #expect(zip(reports.all, reports.all.dropFirst()).allSatisfy { $0.bytesDone <= $1.bytesDone })

        // Again: everything comes from the cache; a tag resolves to the same commit and gets a ref.
        let again = try await f.client.snapshot(f.request("org/tiny"))
        #expect(again.downloadedBytes == 0)
        var tagged = f.request("org/tiny")
        tagged.revision = "v1"
        tagged.allowPatterns = ["sub/"]
        let tag = try await f.client.snapshot(tagged)
        #expect(tag.commit == snap.commit)
        #expect(tag.files == ["sub/dir/notes.txt"])
        #expect(try String(contentsOfFile: storage + "/refs/v1", encoding: .utf8) == snap.commit)
        #expect(try await f.client.resolveCommit(repoID: "org/tiny", revision: "v1", token: nil) == snap.commit)
    }

    @Test func sameCacheTreeAsHuggingfaceHubAndEachReadsTheOther() async throws {
        let f = try await HubFixture()
        let sousCache = f.cache("sous")
        let hfCache = f.cache("hf")
        let snap = try await f.client.snapshot(f.request("org/tiny", cache: sousCache, token: "hf_user"))
        _ = try await hfPeer(
            ["download", "org/tiny"],
            env: ["HF_ENDPOINT": f.endpoint.absoluteString, "HF_HUB_CACHE": hfCache, "HF_TOKEN": "hf_user"])
        let ours = try tree(sousCache)
        let theirs = try tree(hfCache)
        #expect(ours == theirs, "differences: \(Set(ours.map { "\($0) \($1)" }).symmetricDifference(theirs.map { "\($0) \($1)" }).sorted())")
        #expect(ours.count > 15)

        // No server from here on: each client must work from the other's cache alone.
        f.server.stop()
        let peer = try #require(
            try await hfPeer(["offline", "org/tiny"], env: ["HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": sousCache,
                                                  "HF_ENDPOINT": f.endpoint.absoluteString]) as? [String: Any])
        #expect(peer["path"] as? String == snap.path)
        let hashes = try #require(peer["files"] as? [String: String])
        #expect(hashes.keys.sorted() == snap.files)
        #expect(hashes["sub/dir/notes.txt"] == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")

        var offline = f.request("org/tiny", cache: hfCache)
        offline.offline = true
        let fromHF = try await f.client.snapshot(offline)
        #expect(fromHF.commit == snap.commit)
        #expect(fromHF.files == snap.files)
        #expect(fromHF.totalBytes == snap.totalBytes)
        #expect(fromHF.path == hfCache + "/models--org--tiny/snapshots/" + snap.commit)
        // Not offline, but the Hub is unreachable: the cached snapshot still answers, with a warning.
        let unreachable = try await f.client.snapshot(f.request("org/tiny", cache: hfCache))
        #expect(unreachable.commit == snap.commit)
        #expect(unreachable.warnings.contains { $0.contains("could not be reached") })
    }

    @Test func networkLossThenRerunResumesWithRange() async throws {
        let f = try await HubFixture()
        var req = f.request("org/resume")
        req.maxRetries = 0
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(req) }
        #expect(error.kind == .network)
        #expect(error.isRetryable)
        #expect(error.description.contains("rerun"))
        let storage = f.cache() + "/models--org--resume"
        let partial = try #require(try FileManager.default.contentsOfDirectory(atPath: storage + "/blobs").first { $0.hasSuffix(".incomplete") })
        let partialSize = try #require(HubClient.fileSize(storage + "/blobs/" + partial))
        // The server sent half of the file before the cut, and every byte of it was kept (1,500,000: not on a
        // block boundary, so the rerun's direct writes start by reading back the block it ends in).
        #expect(partialSize == 1_500_000)
        #expect(!FileManager.default.fileExists(atPath: storage + "/snapshots/\(error.subject)"))

        let snap = try await f.client.snapshot(req)
        #expect(snap.totalBytes == 3_000_001)
        #expect(snap.downloadedBytes == 3_000_001 - partialSize)
        let ranges = try await f.stats().storage.compactMap { $0["range"] as? String }
        #expect(ranges == ["bytes=\(partialSize)-"])
        let etag = String(partial.dropLast(".incomplete".count))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: snap.path + "/big.safetensors") == "../../blobs/\(etag)")
    }

    @Test func transientFailuresAreRetriedWithinOneRun() async throws {
        let f = try await HubFixture()
        let log = ProgressLog()
        let snap = try await f.client.snapshot(f.request("org/retry")) { log.append($0) }
        #expect(snap.totalBytes == 200000)
        let storage = try await f.stats().storage
        #expect(storage.count == 3)
        #expect(storage.compactMap { $0["range"] as? String }.count == 2)
        // Each retry resumes the partial file: its bytes are counted once, not once per attempt.
        let last = try #require(log.all.last)
        #expect(last.bytesDone == 200000)
        #expect(last.bytesTotal == 200000)
        #expect(log.all.allSatisfy { $0.bytesDone <= 200000 })
    }

    @Test func progressStartsOverWhenTheServerIgnoresRange() async throws {
        let f = try await HubFixture()
        var req = f.request("org/norange")
        req.maxRetries = 0
        // The first run is cut after half of the file and leaves it partial.
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(req) }
        #expect(error.kind == .network)
        // The rerun asks for the rest, the server sends the whole file (200): the partial file starts over and
        // so does its progress.
        let log = ProgressLog()
        let snap = try await f.client.snapshot(req) { log.append($0) }
        #expect(snap.totalBytes == 100000)
        #expect(snap.downloadedBytes == 100000)
        let ranges = try await f.stats().storage.map { $0["range"] as? String }
        #expect(ranges == [nil, "bytes=50000-"])
        let last = try #require(log.all.last)
        #expect(last.bytesDone == 100000)
        #expect(last.bytesTotal == 100000)
        #expect(log.all.allSatisfy { $0.bytesDone <= 100000 })
    }

    @Test func corruptDownloadIsRetriedAndNeverCached() async throws {
        let f = try await HubFixture()
        var req = f.request("org/corrupt")
        req.maxRetries = 1
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(req) }
        #expect(error.kind == .integrity)
        #expect(error.subject == "bad.safetensors")
        #expect(try await f.stats().storage.count == 2)
        let storage = f.cache() + "/models--org--corrupt"
        #expect((try? FileManager.default.contentsOfDirectory(atPath: storage + "/blobs")) ?? [] == [])
        let snapshots = storage + "/snapshots"
        #expect(((try? FileManager.default.subpathsOfDirectory(atPath: snapshots)) ?? []).allSatisfy { !$0.contains("bad") })
    }

    @Test func regularFilesAreVerifiedAgainstTheirGitBlobID() async throws {
        let f = try await HubFixture()
        var req = f.request("org/badtext")
        req.maxRetries = 1
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(req) }
        #expect(error.kind == .integrity)
        #expect(error.subject == "notes.txt")
        #expect(error.detail.contains("git blob sha1"))
        let gets = try await f.stats().hub.filter { ($0["path"] as? String ?? "").hasSuffix("/notes.txt") }
        #expect(gets.count == 2)  // the first try and one retry
        #expect((try? FileManager.default.contentsOfDirectory(atPath: f.cache() + "/models--org--badtext/blobs")) ?? [] == [])
    }

    @Test func largestFilesAreFetchedFirst() async throws {
        let f = try await HubFixture()
        var req = f.request("org/order")
        req.maxWorkers = 1
        let snap = try await f.client.snapshot(req)
        #expect(snap.files == ["a.txt", "b.safetensors", "c.json", "d.bin"])
        let order = try await f.stats().hub.compactMap { entry -> String? in
            guard let path = entry["path"] as? String, path.contains("/resolve/") else { return nil }
            return String(path.split(separator: "/").last ?? "")
        }
        // b (30000 B) and d (3000 B) by HEAD + GET on resolve, then c.json (8 B) and a.txt (2 B) by one GET each.
        var firstSeen: [String] = []
        for name in order where !firstSeen.contains(name) { firstSeen.append(name) }
        #expect(firstSeen == ["b.safetensors", "d.bin", "c.json", "a.txt"])
    }

    @Test func accessErrorsSayHowToFixThem() async throws {
        let f = try await HubFixture()
        let gated = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(f.request("org/gated")) }
        #expect(gated.kind == .gated)
        #expect(gated.description.contains("\(f.endpoint.absoluteString)/org/gated"))
        #expect(gated.description.contains("HF_TOKEN"))
        let wrong = try await #require(throws: HubError.self) {
            _ = try await f.client.snapshot(f.request("org/gated", token: "hf_wrongsecret"))
        }
        #expect(wrong.kind == .gated)
        #expect(wrong.description.contains("accept the licence"))
        #expect(!wrong.description.contains("hf_wrongsecret"))
        #expect(try await f.client.snapshot(f.request("org/gated", token: "hf_granted")).files == ["config.json"])

        let priv = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(f.request("org/private")) }
        #expect(priv.kind == .repoNotFound)
        #expect(priv.description.contains("HF_TOKEN"))
        #expect(try await f.client.snapshot(f.request("org/private", token: "hf_private")).files == ["config.json"])

        let missing = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(f.request("org/nothere")) }
        #expect(missing.kind == .repoNotFound)
        var badRev = f.request("org/tiny")
        badRev.revision = "no-such-branch"
        let rev = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(badRev) }
        #expect(rev.kind == .revisionNotFound)
        #expect(rev.description.contains("no-such-branch"))

        let ghost = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(f.request("org/ghost")) }
        #expect(ghost.kind == .entryNotFound)
        #expect(ghost.subject == "missing.txt")
        let noExist = try FileManager.default.subpathsOfDirectory(atPath: f.cache() + "/models--org--ghost/.no_exist")
        #expect(noExist.contains { $0.hasSuffix("/missing.txt") })
    }

    @Test func unsafeFileNamesAreRefused() async throws {
        let f = try await HubFixture()
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(f.request("org/evil")) }
        #expect(error.kind == .unsafePath)
        #expect(error.subject == "../escape.txt")
        #expect(!FileManager.default.fileExists(atPath: f.cache() + "/escape.txt"))
        #expect(!FileManager.default.fileExists(atPath: f.cache() + "/models--org--evil/snapshots/escape.txt"))
        var onlyOK = f.request("org/evil")
        onlyOK.allowPatterns = ["ok.txt"]
        #expect(try await f.client.snapshot(onlyOK).files == ["ok.txt"])
    }

    @Test func warnsWhenBothWeightFormatsAreSelected() async throws {
        let f = try await HubFixture()
        let both = try await f.client.snapshot(f.request("org/mixed"))
        #expect(both.warnings.contains { $0.contains("*.safetensors") && $0.contains("*.bin") })
        var one = f.request("org/mixed")
        one.ignorePatterns = ["*.bin"]
        let single = try await f.client.snapshot(one)
        #expect(single.warnings.isEmpty)
        #expect(single.files == ["model.safetensors"])
    }

    @Test func offlineWithoutCacheFailsClearly() async throws {
        let f = try await HubFixture()
        var req = f.request("org/tiny")
        req.offline = true
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(req) }
        #expect(error.kind == .notCached)
        #expect(error.description.contains("HF_HUB_OFFLINE"))
        #expect(try await f.stats().hub.filter { ($0["path"] as? String) != "/_stats" }.isEmpty)
    }

    @Test func localDirGetsPlainCopies() async throws {
        let f = try await HubFixture()
        var req = f.request("org/tiny")
        req.localDir = f.dir.appendingPathComponent("local").path
        req.allowPatterns = ["*.json", "sub/"]
        let snap = try await f.client.snapshot(req)
        #expect(snap.path == req.localDir)
        #expect(!isSymlink(snap.path + "/config.json"))
        #expect(try String(contentsOfFile: snap.path + "/sub/dir/notes.txt", encoding: .utf8) == "hello")
        #expect(!FileManager.default.fileExists(atPath: snap.path + "/model.safetensors"))
    }

    @Test func commandLineEntryPoint() async throws {
        let f = try await HubFixture()
        let env = ["HF_ENDPOINT": f.endpoint.absoluteString, "HF_HUB_CACHE": f.cache(), "HOME": f.dir.path]
        #expect(await HubDownloadCommand.run(["org/tiny", "--include", "*.json", "--workers", "2"], environment: env) == 0)
        #expect(FileManager.default.fileExists(atPath: f.cache() + "/models--org--tiny/refs/main"))
        #expect(await HubDownloadCommand.run(["--workers"], environment: env) == 2)
        #expect(await HubDownloadCommand.run(["org/nothere"], environment: env) == 1)
        let (req, progress) = try HubDownloadCommand.parse(
            ["org/x", "--revision", "v2", "--exclude", "*.bin", "--offline", "--progress", "--local-dir", "/tmp/l"],
            environment: ["HF_TOKEN": "hf_t", "HF_HOME": "/h"])
        #expect(req.repoID == "org/x" && req.revision == "v2" && req.ignorePatterns == ["*.bin"] && req.allowPatterns == nil)
        #expect(req.offline && progress && req.localDir == "/tmp/l" && req.cacheDir == "/h/hub" && req.token == "hf_t")
    }

    @Test func diskFullLeavesNothingInSnapshots() async throws {
        let f = try await HubFixture()
        var first = f.request("org/full")
        first.allowPatterns = ["config.json"]
        let snap = try await f.client.snapshot(first)
        let cache = HubCache(root: f.cache(), repoID: "org/full", type: .model)
        let etag = try #require(cache.readTreeCache(snap.commit)?["model.safetensors"]?.lfsSHA256)
        // Every write to the partial blob now fails with ENOSPC.
        #expect(symlink("/dev/full", cache.incomplete(etag)) == 0)
        let error = try await #require(throws: HubError.self) { _ = try await f.client.snapshot(f.request("org/full")) }
        #expect(error.kind == .diskFull)
        #expect(error.description.contains("free space"))
        #expect(!FileManager.default.fileExists(atPath: cache.pointer(snap.commit, "model.safetensors")))
        #expect(!isSymlink(cache.pointer(snap.commit, "model.safetensors")))
        #expect(!FileManager.default.fileExists(atPath: cache.blob(etag)))
    }
}

/// Collects progress reports from the download tasks.
private final class ProgressLog: Sendable {
    private let reports = Mutex<[HubProgress]>([])
    func append(_ p: HubProgress) { reports.withLock { $0.append(p) } }
    var all: [HubProgress] { reports.withLock { $0 } }
}
