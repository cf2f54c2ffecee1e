public import Foundation

/// Hex and base64 helpers shared by every module that hashes.
extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal.
    public var hexString: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(underestimatedCount * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Standard base64.
    public var base64String: String { Data(self).base64EncodedString() }
}

/// A file that could not be opened or read while hashing it.
public struct FileReadError: Error, LocalizedError, CustomStringConvertible {
    public let path: String
    public let code: Int32
    public var description: String { "Cannot read \(path): \(String(cString: strerror(code)))." }
    public var errorDescription: String? { description }
}

/// Calls `body` with consecutive chunks of a file region, read with `pread` into one reused 1 MiB buffer
/// (memory does not grow with the file; one system call per MiB).
public func forEachChunk(
    ofFile path: String, offset: UInt64 = 0, length: UInt64? = nil, _ body: (UnsafeRawBufferPointer) throws -> Void
) throws {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadError(path: path, code: errno) }
    defer { close(fd) }
    let size = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
    defer { buffer.deallocate() }
    var position = offset
    var remaining = length ?? UInt64.max
    while remaining > 0 {
        let want = Int(min(remaining, UInt64(size)))
        let n = pread(fd, buffer.baseAddress!, want, off_t(position))
        if n < 0 {
            if errno == EINTR { continue }
            throw FileReadError(path: path, code: errno)
        }
        if n == 0 { break }
        try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        position += UInt64(n)
        remaining -= UInt64(n)
    }
}

/// SHA-256 of a file region (memory does not grow with the file).
///
/// - Throws: `FileReadError` when the file cannot be read.
public func sha256OfFile(atPath path: String, offset: UInt64 = 0, length: UInt64? = nil) throws -> [UInt8] {
    var hasher = SHA256Hasher()
    try forEachChunk(ofFile: path, offset: offset, length: length) { hasher.update($0) }
    return hasher.finalize()
}

/// MD5 of a file region (S3 ETags, Content-MD5).
///
/// - Throws: `FileReadError` when the file cannot be read.
public func md5OfFile(atPath path: String, offset: UInt64 = 0, length: UInt64? = nil) throws -> [UInt8] {
    var hasher = SHA256Hasher(algorithm: .md5)
    try forEachChunk(ofFile: path, offset: offset, length: length) { hasher.update($0) }
    return hasher.finalize()
}

/// CRC-32 (IEEE 802.3, as used by the AWS event stream and gzip), slicing-by-16 (see CRC.swift).
public struct CRC32: Sendable {
    public private(set) var value: UInt32 = 0

    public init() {}

    /// Continues the checksum over raw memory.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { value = crc32Update(crc32Tables, value, bytes) }

    /// Continues the checksum over bytes (`[UInt8]`, `Data`, slices).
    public mutating func update(_ data: some DataProtocol) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    /// CRC-32 of `bytes` in one call.
    public static func checksum(_ bytes: some DataProtocol) -> UInt32 {
        var c = CRC32()
        c.update(bytes)
        return c.value
    }

    /// CRC-32 of raw memory, continuing from `crc` (0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        crc32Update(crc32Tables, crc, bytes)
    }
}
