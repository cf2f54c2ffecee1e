import Foundation

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

/// SHA-256 of a file region, read in 1 MiB chunks (memory does not grow with the file).
///
/// - Throws: a Foundation file error when the file cannot be read.
public func sha256OfFile(atPath path: String, offset: UInt64 = 0, length: UInt64? = nil) throws -> [UInt8] {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    var remaining = length ?? UInt64.max
    var hasher = SHA256Hasher()
    while remaining > 0 {
        let want = Int(min(remaining, 1 << 20))
        guard let chunk = try handle.read(upToCount: want), !chunk.isEmpty else { break }
        hasher.update(chunk)
        remaining -= UInt64(chunk.count)
    }
    return hasher.finalize()
}

/// CRC-32 (IEEE 802.3, as used by the AWS event stream and gzip).
public struct CRC32: Sendable {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
    public private(set) var value: UInt32 = 0

    public init() {}

    /// Continues the checksum over `bytes`.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        var c = ~value
        for b in bytes { c = Self.table[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        value = ~c
    }

    /// CRC-32 of `bytes` in one call.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var c = CRC32()
        c.update(bytes)
        return c.value
    }
}
