import Foundation
import SousBasics
import HTTPTypes
import SousCrypto

/// S3's flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256): what a request declares, the errors S3
/// answers, and the headers and XML elements that carry a stored checksum back.
/// Spec: https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
enum S3Checksums {
    /// What a request declares about its body's checksum.
    struct Expectation: Sendable, Equatable {
        var algorithm: ChecksumAlgorithm
        /// The base64 value of an `x-amz-checksum-*` header; nil when it comes in the aws-chunked trailer.
        var value: String?
    }

    /// Request headers that name checksum settings rather than carry a value.
    private static let settings: Set<String> = ["x-amz-checksum-mode", "x-amz-checksum-algorithm", "x-amz-checksum-type"]

    /// The checksum a request's body must have, from `x-amz-checksum-<algorithm>`, `x-amz-trailer` or
    /// `x-amz-sdk-checksum-algorithm`; nil when it declares none.
    /// - Throws: `InvalidRequest` as S3 answers it: several values, a malformed value, an unknown algorithm, or an
    ///   SDK algorithm that names another algorithm than the value. (An SDK algorithm with no value is let through,
    ///   where S3 refuses it on operations that carry a body's checksum.)
    static func expectation(_ wire: WireRequest) throws -> Expectation? {
        let values = wire.headers.filter { h in
            let n = h.name.lowercased()
            return n.hasPrefix("x-amz-checksum-") && !settings.contains(n)
        }
        let sdk = wire.header("x-amz-sdk-checksum-algorithm")
        if values.count > 1 {
            throw invalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
        }
        if let h = values.first {
            let name = h.name.lowercased()
            guard let algorithm = ChecksumAlgorithm(awsName: String(name.dropFirst("x-amz-checksum-".count))) else {
                throw unsupported
            }
            guard digest(h.value, algorithm) != nil else { throw invalidValue(name) }
            if let sdk, ChecksumAlgorithm(awsName: sdk) != algorithm {
                throw invalidRequest("Value for x-amz-sdk-checksum-algorithm header is invalid.")
            }
            return Expectation(algorithm: algorithm, value: h.value)
        }
        if let trailer = wire.header("x-amz-trailer")?.trimmingCharacters(in: .whitespaces).lowercased() {
            guard trailer.hasPrefix("x-amz-checksum-"),
                let algorithm = ChecksumAlgorithm(awsName: String(trailer.dropFirst("x-amz-checksum-".count)))
            else { throw invalidRequest("The value specified in the x-amz-trailer header is not supported") }
            return Expectation(algorithm: algorithm, value: nil)
        }
        if let sdk, ChecksumAlgorithm(awsName: sdk) == nil { throw unsupported }
        return nil
    }

    /// The algorithm and type CreateMultipartUpload asks for (`x-amz-checksum-algorithm`, `x-amz-checksum-type`).
    static func uploadSpec(_ wire: WireRequest) throws -> (algorithm: ChecksumAlgorithm, type: ChecksumType)? {
        guard let name = wire.header("x-amz-checksum-algorithm") else {
            if wire.header("x-amz-checksum-type") != nil {
                throw invalidRequest("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
            }
            return nil
        }
        guard let algorithm = ChecksumAlgorithm(awsName: name) else { throw unsupported }
        let type: ChecksumType
        if let t = wire.header("x-amz-checksum-type") {
            guard let parsed = ChecksumType(rawValue: t.uppercased()) else { throw invalidRequest("Value for x-amz-checksum-type header is invalid.") }
            type = parsed
        } else {
            type = algorithm == .crc64nvme ? .fullObject : .composite
        }
        if type == .fullObject && !algorithm.isCRC { throw fullObjectNeedsCRC(algorithm) }
        if type == .composite && algorithm == .crc64nvme {
            throw invalidRequest("The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.")
        }
        return (algorithm, type)
    }

    /// The raw digest a base64 value holds, when it is one of `algorithm`'s length.
    static func digest(_ value: String, _ algorithm: ChecksumAlgorithm) -> [UInt8]? {
        guard let d = Data(base64Encoded: value), d.count == algorithm.digestLength else { return nil }
        return [UInt8](d)
    }

    // MARK: Responses

    /// `x-amz-checksum-<algorithm>` and `x-amz-checksum-type`.
    static func headers(_ c: StoredChecksum) -> [(String, String)] {
        [(c.algorithm.headerName, c.value), ("x-amz-checksum-type", c.type.rawValue)]
    }

    /// The XML element of a value: `<ChecksumCRC32>…</ChecksumCRC32>`.
    static func element(_ algorithm: ChecksumAlgorithm, _ value: String) -> String {
        "<Checksum\(algorithm.rawValue)>\(XMLText.escape(value))</Checksum\(algorithm.rawValue)>"
    }

    /// The value and, with `type`, `<ChecksumType>`.
    static func xml(_ c: StoredChecksum?, type: Bool = true) -> String {
        guard let c else { return "" }
        return element(c.algorithm, c.value) + (type ? "<ChecksumType>\(c.type.rawValue)</ChecksumType>" : "")
    }

    // MARK: Errors, as S3 words them

    static func badDigest(_ algorithm: ChecksumAlgorithm) -> ServiceError {
        ServiceError(.badRequest, "BadDigest", "The \(algorithm.rawValue) you specified did not match the calculated checksum.")
    }

    static func fullObjectNeedsCRC(_ algorithm: ChecksumAlgorithm) -> ServiceError {
        invalidRequest("The FULL_OBJECT checksum type cannot be used with the \(algorithm.rawValue.lowercased()) checksum algorithm.")
    }

    static func invalidValue(_ header: String) -> ServiceError { invalidRequest("Value for \(header) header is invalid.") }

    static var unsupported: ServiceError {
        invalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
    }

    static func invalidRequest(_ message: String) -> ServiceError { ServiceError(.badRequest, "InvalidRequest", message) }
}
