public import Foundation

/// The checksum algorithms of S3's flexible checksums (`x-amz-checksum-*`).
public enum ChecksumAlgorithm: String, Sendable, CaseIterable {
    case crc32 = "CRC32", crc32c = "CRC32C", crc64nvme = "CRC64NVME", sha1 = "SHA1", sha256 = "SHA256"

    /// The algorithm named by an AWS header or parameter value, in any case (`crc32`, `CRC64NVME`).
    public init?(awsName: String) {
        guard let a = ChecksumAlgorithm(rawValue: awsName.uppercased()) else { return nil }
        self = a
    }

    /// The header that carries a value of this algorithm, `x-amz-checksum-crc32` and so on.
    public var headerName: String { "x-amz-checksum-" + rawValue.lowercased() }

    /// CRCs can be combined into a full-object checksum of a multipart object; SHA digests cannot.
    public var isCRC: Bool { self == .crc32 || self == .crc32c || self == .crc64nvme }

    /// Length of the digest in bytes.
    public var digestLength: Int {
        switch self {
        case .crc32, .crc32c: 4
        case .crc64nvme: 8
        case .sha1: 20
        case .sha256: 32
        }
    }
}

/// An incremental checksum of one `ChecksumAlgorithm`.
///
/// Not `Sendable`, and copies of a SHA checksum share one OpenSSL context: copy it only before updating.
public struct Checksum {
    private enum State {
        case crc32(UInt32), crc32c(UInt32), crc64(UInt64)
        case digest(SHA256Hasher)
    }
    public let algorithm: ChecksumAlgorithm
    private var state: State

    public init(_ algorithm: ChecksumAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .crc32: state = .crc32(0)
        case .crc32c: state = .crc32c(0)
        case .crc64nvme: state = .crc64(0)
        case .sha1: state = .digest(SHA256Hasher(algorithm: .sha1))
        case .sha256: state = .digest(SHA256Hasher(algorithm: .sha256))
        }
    }

    /// Continues the checksum over raw memory.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .crc32(let c): state = .crc32(crc32Update(crc32Tables, c, bytes))
        case .crc32c(let c): state = .crc32c(crc32Update(crc32cTables, c, bytes))
        case .crc64(let c): state = .crc64(crc64Update(crc64nvmeTables, c, bytes))
        case .digest(var h):
            h.update(bytes)
            state = .digest(h)
        }
    }

    /// Continues the checksum over bytes (`[UInt8]`, `Data`, slices).
    public mutating func update(_ data: some DataProtocol) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    /// The digest, big-endian as AWS encodes it. The checksum must not be updated afterwards.
    public consuming func digest() -> [UInt8] {
        switch state {
        case .crc32(let c), .crc32c(let c): return Self.bigEndianBytes(c)
        case .crc64(let c): return Self.bigEndianBytes(c)
        case .digest(let h): return h.finalize()
        }
    }

    /// The digest in standard base64, the form of `x-amz-checksum-*` values.
    public consuming func base64() -> String { digest().base64String }

    /// The checksum of `data` in one call.
    public static func of(_ algorithm: ChecksumAlgorithm, _ data: some DataProtocol) -> [UInt8] {
        var c = Checksum(algorithm)
        c.update(data)
        return c.digest()
    }

    static func bigEndianBytes<W: FixedWidthInteger>(_ v: W) -> [UInt8] {
        (0..<(W.bitWidth / 8)).reversed().map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
    }
}

/// Full-object CRCs of multipart objects, from their parts' CRCs.
public enum CRCCombine {
    /// The CRC of `A ‖ B` from the big-endian digests of `A` and `B` and `B`'s length in bytes.
    ///
    /// - Precondition: `algorithm.isCRC`, and both digests are `algorithm.digestLength` bytes long.
    public static func combine(
        _ algorithm: ChecksumAlgorithm, _ first: [UInt8], _ second: [UInt8], secondLength: UInt64
    ) -> [UInt8] {
        precondition(algorithm.isCRC && first.count == algorithm.digestLength && second.count == algorithm.digestLength)
        func word<W: FixedWidthInteger>(_ bytes: [UInt8]) -> W { bytes.reduce(0) { ($0 << 8) | W($1) } }
        switch algorithm {
        case .crc32:
            return Checksum.bigEndianBytes(crcCombine(crc32Tables, word(first), word(second), secondLength: secondLength))
        case .crc32c:
            return Checksum.bigEndianBytes(crcCombine(crc32cTables, word(first), word(second), secondLength: secondLength))
        default:
            return Checksum.bigEndianBytes(
                crcCombine(crc64nvmeTables, word(first), word(second), secondLength: secondLength))
        }
    }

    /// The composite checksum S3 reports for a multipart object: the checksum of the concatenated raw part
    /// digests, in base64, followed by `-<number of parts>`.
    public static func composite(_ algorithm: ChecksumAlgorithm, partDigests: [[UInt8]]) -> String {
        var c = Checksum(algorithm)
        for d in partDigests { c.update(d) }
        return c.base64() + "-\(partDigests.count)"
    }
}
