import Foundation
@testable import SousAWS
import SousHTTP
import SousTestSupport
import Synchronization
import Testing

/// moto's server on loopback, optionally with SigV4 checking, plus an AWS client signed with an IAM key
/// created through sous's own IAM calls (the unauthenticated first actions).
struct MotoFixture {
    let server: TestServerProcess
    let credentials: AWSCredentials
    let client: AWSClient
    var endpoint: String { "http://127.0.0.1:\(server.port)" }

    static func environment(port: Int, _ c: AWSCredentials) -> [String: String] {
        [
            "AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)", "AWS_ACCESS_KEY_ID": c.accessKeyId,
            "AWS_SECRET_ACCESS_KEY": c.secretAccessKey, "AWS_REGION": "us-east-1", "HOME": "/nonexistent",
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
    }

    static func client(port: Int, _ c: AWSCredentials, region: String = "us-east-1") throws -> AWSClient {
        AWSClient(
            configuration: try AWSConfiguration(environment: environment(port: port, c)), region: region,
            credentials: StaticCredentialsProvider(c))
    }

    static func start(auth: Bool) async throws -> MotoFixture {
        let server = try await TestServerProcess.start(
            executable: TestPaths.python,
            arguments: [TestPaths.packageRoot.appendingPathComponent("Tests/python/moto_launcher.py").path]
                + (auth ? ["--no-auth-count", "3"] : []))
        let bootstrap = AWSCredentials(accessKeyId: "AKIABOOTSTRAP0000000", secretAccessKey: "bootstrap")
        guard auth else {
            return MotoFixture(server: server, credentials: bootstrap, client: try client(port: server.port, bootstrap))
        }
        let iam = IAMClient(try client(port: server.port, bootstrap))
        try await iam.createUser("sous-test")
        let key = try await iam.createAccessKey(userName: "sous-test")
        try await iam.putUserPolicy(
            userName: "sous-test", policyName: "all",
            document: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        return MotoFixture(server: server, credentials: key, client: try client(port: server.port, key))
    }

    /// Reads objects back with boto3; returns key → (sha256, size) and the bucket's full listing.
    func boto3Check(bucket: String, keys: [String]) throws -> (objects: [String: (String, Int)], listing: [String]) {
        let (objects, listing) = try boto3Read(bucket: bucket, keys: keys)
        var result: [String: (String, Int)] = [:]
        for (k, v) in objects { result[k] = (v["sha256"] as? String ?? "", v["size"] as? Int ?? -1) }
        return (result, listing)
    }

    /// What Tests/python/moto_boto3_check.py prints: key → {sha256, size, crc32 (computed by boto3's side),
    /// checksum_crc32 and checksum_type (what the server reports)}, and the listing.
    func boto3Read(bucket: String, keys: [String]) throws -> (objects: [String: [String: Any]], listing: [String]) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [TestPaths.python, TestPaths.packageRoot.appendingPathComponent("Tests/python/moto_boto3_check.py").path,
                       endpoint, bucket] + keys
        var env = ProcessInfo.processInfo.environment
        env["AWS_ACCESS_KEY_ID"] = credentials.accessKeyId
        env["AWS_SECRET_ACCESS_KEY"] = credentials.secretAccessKey
        env["AWS_SESSION_TOKEN"] = nil
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0,
            let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let objects = obj["objects"] as? [String: [String: Any]], let listing = obj["listing"] as? [String]
        else { throw AWSConfigError("boto3 check failed (status \(p.terminationStatus))") }
        return (objects, listing)
    }
}

func pattern(_ n: Int, seed: Int = 0) -> Data { Data((0..<n).map { UInt8(($0 &* 31 &+ seed) % 251) }) }

@Suite("S3 against moto")
struct S3MotoTests {
    @Test("signed requests: identity, bucket creation, objects, ranges, listing pages, batch delete, default bucket, wrong secret")
    func objects() async throws {
        let moto = try await MotoFixture.start(auth: true)
        defer { moto.server.stop() }
        let id = try await STSClient(moto.client).getCallerIdentity()
        #expect(id.account == "123456789012")
        #expect(id.arn.hasSuffix("user/sous-test"))

        let s3 = S3Client(moto.client)
        #expect(s3.pathStyle)
        try await s3.createBucket("sous-data")
        try await s3.createBucket("sous-data")  // already owned: fine
        try await S3Client(moto.client.withRegion("eu-west-1")).createBucket("sous-eu")
        #expect(try await s3.bucketExists("sous-eu"))
        #expect(try await !s3.bucketExists("missing-bucket"))

        let blob = pattern(100_000)
        let etag = try await s3.putObject(bucket: "sous-data", key: "mem/blob.bin", body: .bytes(blob), contentType: "application/octet-stream", metadata: ["origin": "test"])
        #expect(etag == AWSHashing.md5Hex(blob))
        let head = try #require(try await s3.headObject(bucket: "sous-data", key: "mem/blob.bin"))
        #expect(head.size == 100_000)
        #expect(head.metadata["origin"] == "test")
        #expect(try await s3.headObject(bucket: "sous-data", key: "nope") == nil)
        #expect(try await s3.getObject(bucket: "sous-data", key: "mem/blob.bin") == blob)
        #expect(try await s3.getObject(bucket: "sous-data", key: "mem/blob.bin", range: 10...19) == blob[10...19])

        let dir = try TestPaths.makeTemporaryDirectory("sous-s3-moto")
        defer { try? FileManager.default.removeItem(at: dir) }
        let dest = dir.appendingPathComponent("out.bin").path
        try await s3.getObject(bucket: "sous-data", key: "mem/blob.bin", toFile: dest)
        #expect(FileManager.default.contents(atPath: dest) == blob)
        do {
            try await s3.getObject(bucket: "sous-data", key: "missing", toFile: dest)
            Issue.record("expected NoSuchKey")
        } catch let e as AWSError {
            #expect(e.code == "NoSuchKey")
            #expect(e.hint == "the object does not exist; check the key")
        }

        // Listing with pagination (page size 2 over 5 keys) and batch delete.
        for i in 0..<5 { try await s3.putObject(bucket: "sous-data", key: "list/item\(i)", body: .bytes(Data([UInt8(i)]))) }
        let listed = try await s3.listObjects(bucket: "sous-data", prefix: "list", pageSize: 2)
        #expect(listed.map(\.key) == (0..<5).map { "list/item\($0)" })
        #expect(listed.allSatisfy { $0.size == 1 })
        let page = try await s3.listObjectsPage(bucket: "sous-data", prefix: "list", maxKeys: 2)
        #expect(page.objects.count == 2 && page.nextToken != nil)
        #expect(try await s3.deletePrefix(bucket: "sous-data", prefix: "list") == 5)
        #expect(try await s3.listObjects(bucket: "sous-data", prefix: "list").isEmpty)

        // Default bucket, created when missing.
        let bucket = try await s3.ensureDefaultBucket(accountId: id.account)
        #expect(bucket == "sagemaker-us-east-1-123456789012")
        #expect(try await s3.bucketExists(bucket))

        // Bucket tags and DeleteBucket go through S3Client's one request builder; a bucket already gone is fine.
        try await s3.createBucket("sous-tagged")
        try await s3.tagBucket("sous-tagged", tags: ["sous:recipe": "a b/c=d+e@f.g_h:-", "team": "ml"])
        let tagging = try await moto.client.send(s3.request("GetBucketTagging", "GET", bucket: "sous-tagged", query: [("tagging", "")]))
        let tags = (XMLNode.parse(tagging.body)?.find("TagSet")?.all("Tag") ?? []).map { ($0.value("Key") ?? "", $0.value("Value") ?? "") }
        #expect(Dictionary(tags) { a, _ in a } == ["sous:recipe": "a b/c=d+e@f.g_h:-", "team": "ml"])
        try await s3.deleteBucket("sous-tagged")
        #expect(try await !s3.bucketExists("sous-tagged"))
        try await s3.deleteBucket("sous-tagged")

        // Wrong secret and unknown key are refused by moto's signature check.
        var wrong = moto.credentials
        wrong.secretAccessKey = "not-the-secret"
        let bad = S3Client(try MotoFixture.client(port: moto.server.port, wrong))
        do {
            _ = try await bad.getObject(bucket: "sous-data", key: "mem/blob.bin")
            Issue.record("expected SignatureDoesNotMatch")
        } catch let e as AWSError {
            #expect(e.code == "SignatureDoesNotMatch")
            #expect(e.status == 403)
            #expect(!e.description.contains("not-the-secret"))
        }
        do {
            _ = try await SageMakerClient(try MotoFixture.client(port: moto.server.port, wrong)).listEndpoints()
            Issue.record("expected SignatureDoesNotMatch")
        } catch let e as AWSError {
            #expect(e.code == "SignatureDoesNotMatch")
        }
        let unknown = AWSCredentials(accessKeyId: "AKIAUNKNOWN000000000", secretAccessKey: "x")
        await #expect(throws: AWSError.self) {
            _ = try await STSClient(try MotoFixture.client(port: moto.server.port, unknown)).getCallerIdentity()
        }
    }

    @Test("uploads carry CRC32 checksums: per part and full-object on multipart, on PutObject; boto3 reads the same CRC back")
    func checksums() async throws {
        let moto = try await MotoFixture.start(auth: true)
        defer { moto.server.stop() }
        let s3 = S3Client(moto.client)
        try await s3.createBucket("sous-crc")
        let dir = try TestPaths.makeTemporaryDirectory("sous-s3-crc")
        defer { try? FileManager.default.removeItem(at: dir) }
        // MiB-aligned parts (their CRCs come from the digest pass) and unaligned ones (read again), and one part.
        var results: [String: S3UploadResult] = [:]
        for (name, size, partSize) in [("aligned", (5 << 20) / 2, UInt64(1 << 20)), ("unaligned", 50_000, UInt64(16_384)), ("small", 3_000, UInt64(1 << 20))] {
            let file = dir.appendingPathComponent(name).path
            try pattern(size, seed: size).write(to: URL(fileURLWithPath: file))
            var options = S3TransferOptions()
            options.multipartThreshold = 10_000
            options.partSize = partSize
            options.minimumPartSize = 1024
            options.stateDirectory = dir.appendingPathComponent("state").path
            results[name] = try await s3.uploadFile(file, bucket: "sous-crc", key: "crc/\(name).bin", options: options)
        }
        #expect(results["aligned"]?.partCount == 3 && results["unaligned"]?.partCount == 4 && results["small"]?.partCount == 1)
        let (objects, _) = try moto.boto3Read(bucket: "sous-crc", keys: results.values.map(\.key))
        for (name, r) in results {
            let o = try #require(objects[r.key])
            // The CRC sous computed, boto3's own CRC of the bytes, and the one moto computed as the checksum
            // type sous asked for (FULL_OBJECT CRC32) are the same.
            #expect(r.checksumCRC32 != nil && r.checksumCRC32 == o["crc32"] as? String, "\(name): \(String(describing: r.checksumCRC32)) vs \(o)")
            #expect(o["checksum_crc32"] as? String == o["crc32"] as? String, "\(name): \(o)")
            if r.partCount > 1 { #expect(o["checksum_type"] as? String == "FULL_OBJECT", "\(name): \(o)") }
        }
    }

    @Test("ListMultipartUploads by prefix: the unfinished uploads under it (unsigned moto: its signature check fails on a '/' in a query value)")
    func unfinishedUploads() async throws {
        let moto = try await MotoFixture.start(auth: false)
        defer { moto.server.stop() }
        let s3 = S3Client(moto.client)
        try await s3.createBucket("sous-unfinished")
        var ids: [String: String] = [:]
        for key in ["big/w.bin", "big/w.bin.other", "big/sub/x.bin", "other/x.bin"] {
            ids[key] = try await s3.createMultipartUpload(bucket: "sous-unfinished", key: key)
        }
        let listed = try await s3.listMultipartUploads(bucket: "sous-unfinished", prefix: "big/")
        #expect(Dictionary(uniqueKeysWithValues: listed.map { ($0.key, $0.uploadId) }) == ids.filter { $0.key.hasPrefix("big/") })
        let one = try await s3.listMultipartUploads(bucket: "sous-unfinished", prefix: "big/w.bin")
        #expect(Set(one.map(\.key)) == ["big/w.bin", "big/w.bin.other"])
        for (key, id) in ids { try await s3.abortMultipartUpload(bucket: "sous-unfinished", key: key, uploadId: id) }
        #expect(try await s3.listMultipartUploads(bucket: "sous-unfinished", prefix: "").isEmpty)
    }

    @Test("file uploads: single part, parallel multipart, skip unchanged, resume after interruption; boto3 reads them back")
    func uploads() async throws {
        let moto = try await MotoFixture.start(auth: true)
        defer { moto.server.stop() }
        let s3 = S3Client(moto.client)
        try await s3.createBucket("sous-up")
        let dir = try TestPaths.makeTemporaryDirectory("sous-s3-up")
        defer { try? FileManager.default.removeItem(at: dir) }
        let small = dir.appendingPathComponent("small.bin")
        let big = dir.appendingPathComponent("big.bin")
        try pattern(3000).write(to: small)
        try pattern(50_000, seed: 7).write(to: big)
        var options = S3TransferOptions()
        options.multipartThreshold = 10_000
        options.partSize = 4096
        options.minimumPartSize = 1024
        options.concurrency = 3
        options.stateDirectory = dir.appendingPathComponent("state").path
        let progress = ProgressLog()
        options.progress = { done, total in progress.add(done, total) }

        let r1 = try await s3.uploadFile(small.path, bucket: "sous-up", key: "models/small.bin", options: options)
        #expect(r1.uploaded && r1.partCount == 1)
        let r2 = try await s3.uploadFile(big.path, bucket: "sous-up", key: "models/big.bin", options: options)
        #expect(r2.uploaded && r2.partCount == 13 && r2.partsReused == 0)
        #expect(progress.last.map { $0 == (50_000, 50_000) } == true)
        let head = try #require(try await s3.headObject(bucket: "sous-up", key: "models/big.bin"))
        #expect(head.etag.hasSuffix("-13"))
        #expect(head.metadata["sous-sha256"] == AWSHashing.sha256Hex(pattern(50_000, seed: 7)))

        // Unchanged: skipped (ETag == MD5 for single part, recorded sha256 for multipart).
        #expect(try await !s3.uploadFile(small.path, bucket: "sous-up", key: "models/small.bin", options: options).uploaded)
        #expect(try await !s3.uploadFile(big.path, bucket: "sous-up", key: "models/big.bin", options: options).uploaded)
        // Changed content of the same size is uploaded again.
        try pattern(3000, seed: 1).write(to: small)
        #expect(try await s3.uploadFile(small.path, bucket: "sous-up", key: "models/small.bin", options: options).uploaded)

        // With a listing of the destination (what a folder upload takes once), the decision needs no HeadObject
        // for single-part objects: the listed size and ETag decide, and an object the listing does not hold is
        // uploaded without asking. A multipart object of the same size is still checked by its recorded sha256.
        var listed = options
        let listing = try await s3.listObjects(bucket: "sous-up")  // (moto mis-signs prefixes holding "/")
        listed.existing = Dictionary(uniqueKeysWithValues: listing.map { ($0.key, $0) })
        #expect(try await !s3.uploadFile(small.path, bucket: "sous-up", key: "models/small.bin", options: listed).uploaded)
        #expect(try await !s3.uploadFile(big.path, bucket: "sous-up", key: "models/big.bin", options: listed).uploaded)
        listed.existing?["models/small.bin"]?.etag = "0123456789abcdef0123456789abcdef"
        #expect(try await s3.uploadFile(small.path, bucket: "sous-up", key: "models/small.bin", options: listed).uploaded)
        listed.existing = [:]
        #expect(try await s3.uploadFile(small.path, bucket: "sous-up", key: "models/small.bin", options: listed).uploaded)

        // Interrupted upload: 5 parts were sent and the state recorded, then the process "died".
        let partSize: UInt64 = 4096
        let resumeFile = dir.appendingPathComponent("resume.bin")
        try pattern(40_000, seed: 3).write(to: resumeFile)
        let attrs = try FileManager.default.attributesOfItem(atPath: resumeFile.path)
        let uploadId = try await s3.createMultipartUpload(bucket: "sous-up", key: "models/resume.bin", metadata: ["sous-sha256": AWSHashing.sha256Hex(pattern(40_000, seed: 3))])
        for n in 1...5 {
            _ = try await s3.uploadPart(bucket: "sous-up", key: "models/resume.bin", uploadId: uploadId, partNumber: n,
                                        body: .file(path: resumeFile.path, offset: UInt64(n - 1) * partSize, length: partSize))
        }
        let statePath = S3MultipartState.path(directory: options.stateDirectory!, bucket: "sous-up", key: "models/resume.bin")
        try S3MultipartState(bucket: "sous-up", key: "models/resume.bin", uploadId: uploadId, fileSize: 40_000, partSize: partSize,
                             modified: (attrs[.modificationDate] as! Date).timeIntervalSince1970).save(to: statePath)
        #expect(try await s3.listParts(bucket: "sous-up", key: "models/resume.bin", uploadId: uploadId).count == 5)
        let r3 = try await s3.uploadFile(resumeFile.path, bucket: "sous-up", key: "models/resume.bin", options: options)
        #expect(r3.partsReused == 5 && r3.partCount == 10)
        #expect(!FileManager.default.fileExists(atPath: statePath))

        let check = try moto.boto3Check(bucket: "sous-up", keys: ["models/small.bin", "models/big.bin", "models/resume.bin"])
        #expect(check.objects["models/small.bin"]! == (AWSHashing.sha256Hex(pattern(3000, seed: 1)), 3000))
        #expect(check.objects["models/big.bin"]! == (AWSHashing.sha256Hex(pattern(50_000, seed: 7)), 50_000))
        #expect(check.objects["models/resume.bin"]! == (AWSHashing.sha256Hex(pattern(40_000, seed: 3)), 40_000))
    }

    @Test("keys with spaces, unicode and reserved characters round-trip; folders upload to a prefix (unsigned moto)")
    func specialKeysAndFolders() async throws {
        // moto's signature check mis-computes non-ASCII, +, %, =, & keys and '/' in list prefixes: no auth here.
        let moto = try await MotoFixture.start(auth: false)
        defer { moto.server.stop() }
        let s3 = S3Client(moto.client)
        try await s3.createBucket("keys")
        let keys = ["a b/c d.txt", "ünïcödé/日本語.bin", "plus+sign", "pct%25literal%", "eq=amp&semi;",
                    "q?hash#", "dir//double", "tilde~_-.", "emoji 🚀"]
        for (i, k) in keys.enumerated() {
            try await s3.putObject(bucket: "keys", key: k, body: .bytes(pattern(100 + i)))
        }
        let listed = try await s3.listObjects(bucket: "keys").map(\.key)
        #expect(Set(listed) == Set(keys))
        for (i, k) in keys.enumerated() {
            #expect(try await s3.getObject(bucket: "keys", key: k) == pattern(100 + i), "\(k)")
        }
        let check = try moto.boto3Check(bucket: "keys", keys: keys)
        #expect(Set(check.listing) == Set(keys))
        for (i, k) in keys.enumerated() { #expect(check.objects[k]?.0 == AWSHashing.sha256Hex(pattern(100 + i)), "\(k)") }

        // A presigned URL fetches the object without any AWS headers; the sous verifier accepts it.
        let presigned = try await s3.presignedURL(bucket: "keys", key: "a b/c d.txt", expires: 600)
        #expect(presigned.absoluteString.contains("/keys/a%20b/c%20d.txt?"))
        #expect(presigned.absoluteString.contains("X-Amz-Signature="))
        let fetched = try await HTTPClient.shared.send(HTTPRequest(url: presigned))
        #expect(fetched.status == 200 && fetched.body == pattern(100))
        let verdict = SigV4Verifier().verify(
            method: "GET", path: presigned.path(percentEncoded: true), rawQuery: presigned.query(percentEncoded: true) ?? "",
            headers: [("host", "127.0.0.1:\(moto.server.port)")], bodySHA256: nil,
            lookup: { _ in .init(secretAccessKey: moto.credentials.secretAccessKey) })
        #expect(verdict.isValid)

        // Folder upload: relative keys under the prefix; the prefix URI comes back.
        let dir = try TestPaths.makeTemporaryDirectory("sous-s3-folder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model.appendingPathComponent("sub dir"), withIntermediateDirectories: true)
        try pattern(10).write(to: model.appendingPathComponent("config.json"))
        try pattern(20_000).write(to: model.appendingPathComponent("sub dir/weights.safetensors"))
        try pattern(5).write(to: model.appendingPathComponent(".hidden"))
        // A Hugging Face cache snapshot links files into blobs/: the link's target bytes are uploaded.
        let blobs = dir.appendingPathComponent("blobs")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        try pattern(9000, seed: 5).write(to: blobs.appendingPathComponent("abc123"))
        try FileManager.default.createSymbolicLink(atPath: model.appendingPathComponent("tokenizer.json").path,
                                                   withDestinationPath: "../blobs/abc123")
        var options = S3TransferOptions()
        options.multipartThreshold = 8192
        options.partSize = 4096
        options.minimumPartSize = 1024
        let folderProgress = ProgressLog()
        options.progress = { d, t in folderProgress.add(d, t) }
        let uri = try await s3.uploadData(model.path, bucket: "keys", keyPrefix: "hf-large-model/meta/model/", options: options)
        #expect(folderProgress.last.map { $0 == (29_015, 29_015) } == true)
        #expect(folderProgress.isMonotonic)
        #expect(uri == "s3://keys/hf-large-model/meta/model")
        let under = try await s3.listObjects(bucket: "keys", prefix: "hf-large-model/meta/model/").map(\.key)
        #expect(under == ["hf-large-model/meta/model/.hidden", "hf-large-model/meta/model/config.json",
                          "hf-large-model/meta/model/sub dir/weights.safetensors", "hf-large-model/meta/model/tokenizer.json"])
        #expect(try await s3.getObject(bucket: "keys", key: "hf-large-model/meta/model/tokenizer.json") == pattern(9000, seed: 5))
        let again = try await s3.uploadFolder(model.path, bucket: "keys", prefix: "hf-large-model/meta/model", options: options)
        #expect(again.skippedCount == 4 && again.uploadedCount == 0)
        #expect(again.uri == uri && again.files.map(\.key) == under)
        await #expect(throws: AWSConfigError.self) {
            _ = try await s3.uploadFolder(dir.appendingPathComponent("absent").path, bucket: "keys", prefix: "x")
        }
        let fileURI = try await s3.uploadData(model.appendingPathComponent("config.json").path, bucket: "keys", keyPrefix: "code")
        #expect(fileURI == "s3://keys/code/config.json")
        #expect(S3URI(uri) == S3URI(bucket: "keys", key: "hf-large-model/meta/model"))
    }
}

/// Thread-safe record of progress callbacks.
final class ProgressLog: Sendable {
    private let m = Mutex<[(UInt64, UInt64)]>([])
    func add(_ d: UInt64, _ t: UInt64) { m.withLock { $0.append((d, t)) } }
    var last: (UInt64, UInt64)? { m.withLock { $0.last } }
    var isMonotonic: Bool { m.withLock { l in zip(l, l.dropFirst()).allSatisfy { $0.0 <= $1.0 } } }
}
