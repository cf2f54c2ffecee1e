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
