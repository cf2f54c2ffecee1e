import Foundation

/// Date and credential JSON helpers.
enum AWSDate {
    static func parseISO8601(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s)
    }

    static func parseCredentialsJSON(_ data: Data, source: String) throws -> AWSCredentials {
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let akid = obj["AccessKeyId"] as? String, let secret = obj["SecretAccessKey"] as? String
        else {
            throw AWSConfigError("The \(source) did not return AccessKeyId and SecretAccessKey.")
        }
        if let code = obj["Code"] as? String, code != "Success" {
            throw AWSConfigError("The \(source) answered Code \(code).")
        }
        return AWSCredentials(
            accessKeyId: akid, secretAccessKey: secret, sessionToken: (obj["Token"] ?? obj["SessionToken"]) as? String,
            expiration: (obj["Expiration"] as? String).flatMap(parseISO8601))
    }
}
