import Foundation
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

    /// The SageMaker SDK's default bucket name.
    public static func defaultBucketName(region: String, accountId: String) -> String { "sagemaker-\(region)-\(accountId)" }

    /// `sagemaker-{region}-{account}`, created when missing (like `sagemaker.Session.default_bucket()`).
    public func ensureDefaultBucket(accountId: String) async throws -> String {
        let name = Self.defaultBucketName(region: client.region, accountId: accountId)
        if try await !bucketExists(name) { try await createBucket(name) }
        return name
    }
}
