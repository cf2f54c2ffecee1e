public import Foundation
import SousCrypto

/// Hash helpers used for payload hashes.
public enum AWSHashing {
    /// Lower-case hex SHA-256.
    public static func sha256Hex(_ data: Data) -> String { Digest.sha256(data).hexString }
    /// Lower-case hex MD5.
    public static func md5Hex(_ data: Data) -> String { Digest.md5(data).hexString }
}
