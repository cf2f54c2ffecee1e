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

/// Authenticated encryption with AES-256-GCM over OpenSSL's `EVP_CIPHER_CTX`: a sealed box is
/// `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`, with a fresh random nonce per seal.
public enum SealedBox {
    public static let keyLength = 32
    static let nonceLength = 12
    static let tagLength = 16

    public struct OpenError: Error, CustomStringConvertible {
        public init() {}
        public var description: String {
            "the sealed data could not be opened (it was changed, or sealed under another key)"
        }
    }

    /// Encrypts `plaintext` under a 32-byte `key`.
    public static func seal(_ plaintext: [UInt8], key: [UInt8]) -> [UInt8] {
        precondition(key.count == keyLength, "AES-256-GCM needs a 32-byte key")
        let nonce = Digest.randomBytes(nonceLength)
        var body = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        let ok = body.withUnsafeMutableBufferPointer { op in
            withContext(encrypt: true, key: key, nonce: nonce) { ctx in
                let out = op.baseAddress!
                var len: Int32 = 0
                var total: Int32 = 0
                let updated = plaintext.withUnsafeBufferPointer { ip in
                    ip.isEmpty || EVP_EncryptUpdate(ctx, out, &len, ip.baseAddress, Int32(ip.count)) == 1
                }
                total += len
                guard updated, EVP_EncryptFinal_ex(ctx, out + Int(total), &len) == 1 else { return false }
                total += len
                return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagLength), out + Int(total)) == 1
            }
        }
        precondition(ok, "AES-256-GCM encryption failed in OpenSSL")
        return nonce + body
    }

    /// Decrypts and authenticates what `seal` made under the same key.
    public static func open(_ sealed: [UInt8], key: [UInt8]) throws(OpenError) -> [UInt8] {
        guard key.count == keyLength, sealed.count >= nonceLength + tagLength else { throw OpenError() }
        let nonce = Array(sealed.prefix(nonceLength))
        let body = Array(sealed[nonceLength..<(sealed.count - tagLength)])
        var tag = Array(sealed.suffix(tagLength))
        var plain = [UInt8](repeating: 0, count: body.count + tagLength)
        let ok = plain.withUnsafeMutableBufferPointer { op in
            withContext(encrypt: false, key: key, nonce: nonce) { ctx in
                let out = op.baseAddress!
                var len: Int32 = 0
                let updated = body.withUnsafeBufferPointer { ip in
                    ip.isEmpty || EVP_DecryptUpdate(ctx, out, &len, ip.baseAddress, Int32(ip.count)) == 1
                }
                let tagSet = tag.withUnsafeMutableBytes {
                    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagLength), $0.baseAddress) == 1
                }
                var finalLen: Int32 = 0
                return updated && tagSet && EVP_DecryptFinal_ex(ctx, out + Int(len), &finalLen) == 1
            }
        }
        guard ok else { throw OpenError() }
        return Array(plain.prefix(body.count))
    }

    private static func withContext(
        encrypt: Bool, key: [UInt8], nonce: [UInt8], _ work: (OpaquePointer) -> Bool
    ) -> Bool {
        guard let ctx = EVP_CIPHER_CTX_new() else { return false }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let initialized = key.withUnsafeBufferPointer { kp in
            nonce.withUnsafeBufferPointer { np in
                encrypt
                    ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, kp.baseAddress, np.baseAddress) == 1
                    : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, kp.baseAddress, np.baseAddress) == 1
            }
        }
        return initialized && work(ctx)
    }
}
