public import Foundation
internal import CSousOpenSSL

/// Hashes and MACs backed by OpenSSL's EVP API. This is the only file that touches OpenSSL.
public enum Digest {
    /// SHA-256 of `data`.
    public static func sha256(_ data: some DataProtocol) -> [UInt8] {
        var hasher = SHA256Hasher()
        hasher.update(data)
        return hasher.finalize()
    }

    /// MD5 of `data` (S3's Content-MD5 and ETags only; never for security).
    public static func md5(_ data: some DataProtocol) -> [UInt8] {
        var hasher = SHA256Hasher(algorithm: .md5)
        hasher.update(data)
        return hasher.finalize()
    }

    /// SHA-1 of `data` (git blob ids only; never for security).
    public static func sha1(_ data: some DataProtocol) -> [UInt8] {
        var hasher = SHA256Hasher(algorithm: .sha1)
        hasher.update(data)
        return hasher.finalize()
    }

    /// HMAC-SHA256 of `data` under `key`.
    public static func hmacSHA256(key: some DataProtocol, data: some DataProtocol) -> [UInt8] {
        let k = Array(key)
        let d = Array(data)
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        k.withUnsafeBytes { kp in
            d.withUnsafeBytes { dp in
                out.withUnsafeMutableBytes { op in
                    _ = HMAC(
                        EVP_sha256(), kp.baseAddress, Int32(k.count),
                        dp.baseAddress?.assumingMemoryBound(to: UInt8.self), d.count,
                        op.baseAddress?.assumingMemoryBound(to: UInt8.self), &len)
                }
            }
        }
        return Array(out.prefix(Int(len)))
    }

    /// Cryptographically secure random bytes.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { p in
            if RAND_bytes(p.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(count)) != 1 {
                var g = SystemRandomNumberGenerator()
                for i in 0..<count { p[i] = UInt8.random(in: 0...255, using: &g) }
            }
        }
        return out
    }
}

/// An incremental hasher (SHA-256 by default, MD5 or SHA-1) over OpenSSL's `EVP_MD_CTX`.
///
/// Copies share one context: copy it only before updating.
public struct SHA256Hasher {
    public enum Algorithm: Sendable { case sha256, md5, sha1 }

    /// Owns the OpenSSL context.
    private final class Context {
        let ctx: OpaquePointer
        init(_ algorithm: Algorithm) {
            ctx = EVP_MD_CTX_new()
            let md: OpaquePointer?
            switch algorithm {
            case .sha256: md = EVP_sha256()
            case .md5: md = EVP_md5()
            case .sha1: md = EVP_sha1()
            }
            EVP_DigestInit_ex(ctx, md, nil)
        }
        deinit { EVP_MD_CTX_free(ctx) }
    }
    private let box: Context

    public init(algorithm: Algorithm = .sha256) { box = Context(algorithm) }

    /// Feeds more bytes.
    public mutating func update(_ data: some DataProtocol) {
        for region in data.regions {
            region.withUnsafeBytes { p in
                _ = EVP_DigestUpdate(box.ctx, p.baseAddress, p.count)
            }
        }
    }

    /// Feeds raw memory.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        _ = EVP_DigestUpdate(box.ctx, buffer.baseAddress, buffer.count)
    }

    /// Returns the digest; the hasher must not be used afterwards.
    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        out.withUnsafeMutableBytes { p in
            _ = EVP_DigestFinal_ex(box.ctx, p.baseAddress?.assumingMemoryBound(to: UInt8.self), &len)
        }
        return Array(out.prefix(Int(len)))
    }
}
