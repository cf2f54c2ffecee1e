import Foundation
import SousBasics
import SousCrypto
import SousHTTP

extension S3Client {
    /// `HeadBucket`: true when it exists and is reachable, false when it does not exist (`AWSError.isNotFound`).
    public func bucketExists(_ bucket: String) async throws -> Bool {
        do {
            _ = try await client.send(request("HeadBucket", "HEAD", bucket: bucket))
            return true
        } catch let e as AWSError where e.isNotFound {
            return false
        }
    }

    /// `CreateBucket` in the client's region (LocationConstraint outside us-east-1). Already owning it is fine.
    public func createBucket(_ bucket: String) async throws {
        var r = request("CreateBucket", "PUT", bucket: bucket)
        if client.region != "us-east-1" {
            let xml = "<CreateBucketConfiguration xmlns=\"\(Self.xmlns)\"><LocationConstraint>\(client.region)</LocationConstraint></CreateBucketConfiguration>"
            r.body = .bytes(Data(xml.utf8))
            r.headers.set("Content-Type", "application/xml")
        }
        do {
            _ = try await client.send(r)
        } catch let e as AWSError where e.code == "BucketAlreadyOwnedByYou" {
            return
        }
    }

    /// `DeleteBucket` (the bucket must be empty); a bucket that no longer exists is fine.
    public func deleteBucket(_ bucket: String) async throws {
        do {
            _ = try await client.send(request("DeleteBucket", "DELETE", bucket: bucket))
        } catch let e as AWSError where e.isNotFound {
            return
        }
    }

    /// `PutBucketTagging`: replaces the bucket's tags with `tags` (S3 keeps at most 50 per bucket).
    public func tagBucket(_ bucket: String, tags: [String: String]) async throws {
        var r = request("PutBucketTagging", "PUT", bucket: bucket, query: [("tagging", "")])
        let body = Self.taggingXML(tags)
        r.body = .bytes(body)
        r.headers.set("Content-MD5", Digest.md5(body).base64String)
        r.headers.set("Content-Type", "application/xml")
        _ = try await client.send(r)
    }

    /// A `<Tagging>` document (keys sorted, so the request is deterministic).
    static func taggingXML(_ tags: [String: String]) -> Data {
        var xml = "<Tagging xmlns=\"\(xmlns)\"><TagSet>"
        for k in tags.keys.sorted() {
            xml += "<Tag><Key>\(XMLText.escape(k))</Key><Value>\(XMLText.escape(tags[k] ?? ""))</Value></Tag>"
        }
        return Data((xml + "</TagSet></Tagging>").utf8)
    }

    /// The SageMaker SDK's default bucket name.
    public static func defaultBucketName(region: String, accountId: String) -> String { "sagemaker-\(region)-\(accountId)" }

    /// `sagemaker-{region}-{account}`, created when missing (like `sagemaker.Session.default_bucket()`).
    public func ensureDefaultBucket(accountId: String) async throws -> String {
        let name = Self.defaultBucketName(region: client.region, accountId: accountId)
        if try await !bucketExists(name) { try await createBucket(name) }
        return name
    }
}
