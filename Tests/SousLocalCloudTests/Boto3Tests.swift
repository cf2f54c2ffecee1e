import Foundation
import SousLocalCloud
import SousTestSupport
import Testing

/// boto3 (an independent client) drives the local cloud exactly as it would drive AWS.
@Suite("Local cloud with boto3", .serialized)
struct Boto3Tests {
    @Test("S3: buckets, put/get/range/head, multipart via upload_file, listing, deletes, errors; STS")
    func s3() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        let r = try await runBoto3(cloud, "s3")
        #expect((r["multipart_etag"] as? String)?.hasSuffix("-3\"") == true)
        #expect(r["account"] as? String == "000000000000")
    }

    @Test("S3 bodies hashed together: each ETag is its own body's MD5; a multipart object is kept as its parts, read by ranges across them, after a restart too, and leaves no file behind when overwritten")
    func batchedHashingAndPartObjects() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-localcloud-batch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let objects = dir.appendingPathComponent("data/s3/batch/objects")
        func dataFiles() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: objects.path).filter { $0.hasSuffix(".data") }
        }
        do {
            let cloud = try await LocalCloudFixture(dir: dir)
            let r = try await runBoto3(cloud, "s3-batch")
            #expect(r["objects"] as? Int == 33)
            #expect((r["multipart_etag"] as? String)?.hasSuffix("-9\"") == true)
            // The 9 parts became the object's bytes (no joined copy), next to the 32 single-file objects.
            let files = try dataFiles()
            #expect(files.filter { $0.contains("-p") }.count == 9)
            #expect(files.count == 32 + 9)
            cloud.stop()
            _ = await cloud.task.result
        }
        let again = try await LocalCloudFixture(dir: dir)
        defer { again.stop() }
        let r = try await runBoto3(again, "s3-batch-after-restart")
        #expect(r["keys"] as? Int == 32)
        // Overwriting the multipart object removed its 9 part files; deleting one object removed its file.
        #expect(try dataFiles().count == 32)
    }

    @Test(
        "Flexible checksums: each algorithm on PutObject and GetObject/HeadObject; multipart COMPOSITE and FULL_OBJECT; GetObjectAttributes and PartNumber; bad values refused",
        .enabled(if: ClientTools.crt, "needs awscrt (the reference CRC32C and CRC64NVME)"))
    func checksums() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        let r = try await runBoto3(cloud, "s3-checksums")
        // The values boto3 read back equal zlib's, awscrt's and hashlib's (the script asserts it); a few, to see them.
        #expect(r["CRC32"] as? String != nil && r["CRC64NVME"] as? String != nil)
        #expect((r["composite"] as? String)?.hasSuffix("-3") == true)
        #expect((r["bad_digest"] as? String) == "The CRC32 you specified did not match the calculated checksum.")
        #expect((r["full_bad"] as? String) == "The CRC32 you specified did not match the calculated checksum.")
        #expect((r["mismatch"] as? String)?.contains("expected checksum Type: crc32, actual checksum Type: sha1") == true)
        #expect(r["wrong_part"] != nil && r["bad_value"] != nil)
    }

    @Test("CopyObject (directives, a new checksum, shared files), UploadPartCopy with ranges, ListMultipartUploads paging")
    func copies() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        let r = try await runBoto3(cloud, "s3-copies")
        #expect((r["self_copy"] as? String)?.contains("copy an object to itself") == true)
        #expect(r["uploads_listed"] as? Int == 6)
        #expect((r["bad_range"] as? String)?.contains("Range specified is not valid for source object of size") == true)
    }

    @Test("A wrong secret is refused with SignatureDoesNotMatch (S3 and SageMaker)")
    func badSecret() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        let r = try await runBoto3(cloud, "badsecret")
        #expect(r["s3"] as? String == "SignatureDoesNotMatch")
        #expect(r["sagemaker"] as? String == "SignatureDoesNotMatch")
    }

    @Test("LMI endpoint: serving.properties tarball, weights from an S3 prefix, waiter, JSON and JSON Lines streams")
    func lmi() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        _ = try cloud.writeFakeModel()
        let r = try await runBoto3(cloud, "sagemaker-lmi")
        #expect(["Creating", "InService"].contains(r["first_status"] as? String ?? ""))
        let json = try #require(r["json"] as? [String: Any])
        #expect(json["content_type"] as? String == "application/json")
        let doc = try JSONSerialization.jsonObject(with: Data((json["body"] as! String).utf8)) as? [String: Any]
        #expect(doc?["generated_text"] as? String == StoryGenerator.text(8))
        #expect((json["parts"] as? Int ?? 0) > 2)
        let invoke = try #require(r["json_invoke"] as? [String: Any])
        #expect(invoke["body"] as? String == json["body"] as? String)
        let jl = try #require(r["jsonl"] as? [String: Any])
        #expect(jl["content_type"] as? String == "application/jsonlines")
        let lines = (jl["body"] as! String).split(separator: "\n")
        #expect(lines.count == 8)
        let last = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any]
        #expect(last?["generated_text"] as? String == StoryGenerator.text(8))
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect((first?["token"] as? [String: Any])?["text"] as? String == "Once")
    }

    @Test("TGI endpoint: /opt/ml/model from an S3 prefix, SSE stream with details, JSON array, top_p validation")
    func tgi() async throws {
        let cloud = try await LocalCloudFixture()
        defer { cloud.stop() }
        _ = try cloud.writeFakeModel()
        let r = try await runBoto3(cloud, "sagemaker-tgi")
        let sse = try #require(r["sse"] as? [String: Any])
        #expect(sse["content_type"] as? String == "text/event-stream")
        let events = (sse["body"] as! String).components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.count == 8)
        #expect(events.allSatisfy { $0.hasPrefix("data:{") })
        let lastEvent = try JSONSerialization.jsonObject(with: Data(events.last!.dropFirst(5).utf8)) as? [String: Any]
        #expect(lastEvent?["generated_text"] as? String == StoryGenerator.text(8))
        #expect((lastEvent?["details"] as? [String: Any])?["finish_reason"] as? String == "length")
        let firstEvent = try JSONSerialization.jsonObject(with: Data(events[0].dropFirst(5).utf8)) as? [String: Any]
        #expect(firstEvent?["generated_text"] is NSNull)
        #expect(firstEvent?["index"] as? Int == 1)
        let arr = try #require(r["array_invoke"] as? [String: Any])
        let parsed = try JSONSerialization.jsonObject(with: Data((arr["body"] as! String).utf8)) as? [[String: Any]]
        #expect(parsed?.first?["generated_text"] as? String == StoryGenerator.text(8))
        #expect((r["validation"] as? String)?.contains("`top_p` must be > 0.0 and < 1.0") == true)
        #expect((r["stream_validation"] as? String)?.contains("\"error_type\":\"validation\"") == true)
    }
}
