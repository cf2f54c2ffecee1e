public import Foundation

/// AWS credentials (long-term keys or temporary ones with a session token).
///
/// `description` never shows the secret or the token.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working; nil for long-term keys.
    public var expiration: Date?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    /// The access key id with all but its last four characters masked.
    public var maskedAccessKeyId: String {
        accessKeyId.count <= 4 ? "****" : String(repeating: "*", count: 4) + accessKeyId.suffix(4)
    }

    public var description: String {
        "AWSCredentials(accessKeyId: \(maskedAccessKeyId), secret: <redacted>\(sessionToken == nil ? "" : ", token: <redacted>"))"
    }
}

extension AWSCredentials {
    /// Credentials from the JSON that container endpoints and EC2 instance metadata answer
    /// (`AccessKeyId`, `SecretAccessKey`, `Token`/`SessionToken`, `Expiration`, `Code`).
    /// - Throws: `AWSConfigError` naming `source` when the keys are missing or `Code` is not `Success`.
    static func parse(json data: Data, source: String) throws -> AWSCredentials {
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
            expiration: (obj["Expiration"] as? String).flatMap(AWSDate.parseISO8601))
    }
}
