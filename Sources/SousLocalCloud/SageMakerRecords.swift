import Foundation
import HTTPTypes
import SousBasics
import SousCrypto

struct ResourceTag: Codable, Sendable, Equatable {
    var key: String
    var value: String
}

struct ContainerDefinition: Codable, Sendable {
    var image: String
    var modelDataUrl: String?
    /// `ModelDataSource.S3DataSource.S3Uri` (uncompressed prefix or object).
    var modelDataSource: String?
    var compression: String?
    /// As given to CreateModel, and as DescribeModel returns it (as on AWS). On disk it is sealed (see
    /// ``EnvironmentSealer``): the data folder never holds a value of it in plain text.
    var environment: [String: String]

    init(image: String, modelDataUrl: String?, modelDataSource: String?, compression: String?, environment: [String: String]) {
        self.image = image
        self.modelDataUrl = modelDataUrl
        self.modelDataSource = modelDataSource
        self.compression = compression
        self.environment = environment
    }

    private enum CodingKeys: String, CodingKey {
        case image, modelDataUrl, modelDataSource, compression, sealedEnvironment
        /// Records written before the environment was sealed; read once, then rewritten sealed.
        case environment
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        image = try c.decode(String.self, forKey: .image)
        modelDataUrl = try c.decodeIfPresent(String.self, forKey: .modelDataUrl)
        modelDataSource = try c.decodeIfPresent(String.self, forKey: .modelDataSource)
        compression = try c.decodeIfPresent(String.self, forKey: .compression)
        if let plain = try c.decodeIfPresent([String: String].self, forKey: .environment) {
            environment = plain
            return
        }
        let sealed = try c.decode(String.self, forKey: .sealedEnvironment)
        guard let sealer = decoder.userInfo[EnvironmentSealer.userInfoKey] as? EnvironmentSealer else {
            throw DecodingError.dataCorruptedError(
                forKey: .sealedEnvironment, in: c, debugDescription: "no key to open the sealed environment")
        }
        environment = try sealer.open(sealed)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(image, forKey: .image)
        try c.encodeIfPresent(modelDataUrl, forKey: .modelDataUrl)
        try c.encodeIfPresent(modelDataSource, forKey: .modelDataSource)
        try c.encodeIfPresent(compression, forKey: .compression)
        guard let sealer = encoder.userInfo[EnvironmentSealer.userInfoKey] as? EnvironmentSealer else {
            throw EncodingError.invalidValue(
                environment, .init(codingPath: c.codingPath, debugDescription: "no key to seal the environment"))
        }
        try c.encode(try sealer.seal(environment), forKey: .sealedEnvironment)
    }
}

/// Seals a model's Environment for the local cloud's data folder with AES-256-GCM under a random 32-byte key
/// kept in its own file (mode 0600) beside the data folder, never in it: whoever can call DescribeModel
/// reads the Environment, as on AWS, but the data folder alone (copied, archived, grepped, shared) reveals
/// none of it.
struct EnvironmentSealer: Sendable {
    static let userInfoKey = CodingUserInfoKey(rawValue: "sous.local-cloud.environment-sealer")!
    private let key: [UInt8]

    /// Reads the key from `keyFile`, or makes one there (0600, flushed) on first use.
    /// - Throws: `LocalCloudKeyError` when the file cannot be written, or holds something else than a key.
    init(keyFile: URL) throws(LocalCloudKeyError) {
        if let existing = FileManager.default.contents(atPath: keyFile.path) {
            guard existing.count == SealedBox.keyLength else { throw LocalCloudKeyError(path: keyFile.path, reason: "it is not a \(SealedBox.keyLength)-byte key") }
            key = Array(existing)
            return
        }
        let fresh = Digest.randomBytes(SealedBox.keyLength)
        do {
            try fresh.withUnsafeBytes { try DurableFile.write($0, to: keyFile.path, mode: 0o600) }
        } catch {
            throw LocalCloudKeyError(path: keyFile.path, reason: "\(error)")
        }
        key = fresh
    }

    func seal(_ environment: [String: String]) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        return Data(SealedBox.seal(Array(try enc.encode(environment)), key: key)).base64EncodedString()
    }

    func open(_ sealed: String) throws -> [String: String] {
        guard let bytes = Data(base64Encoded: sealed) else { throw SealedBox.OpenError() }
        return try JSONDecoder().decode([String: String].self, from: Data(try SealedBox.open(Array(bytes), key: key)))
    }
}

/// The local cloud's key for sealing model environments could not be read or made.
public struct LocalCloudKeyError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "The local cloud's environment key \(path) cannot be used: \(reason)." }
}

struct ModelRecord: Codable, Sendable {
    var name: String
    var arn: String
    var created: Date
    var executionRoleArn: String?
    var container: ContainerDefinition
    var tags: [ResourceTag]
}

struct VariantRecord: Codable, Sendable {
    var variantName: String
    var modelName: String
    var instanceType: String?
    var initialInstanceCount: Int
    var initialVariantWeight: Double
}

struct EndpointConfigRecord: Codable, Sendable {
    var name: String
    var arn: String
    var created: Date
    var variants: [VariantRecord]
    var tags: [ResourceTag]
}

struct EndpointRecord: Codable, Sendable {
    var name: String
    var arn: String
    var configName: String
    var status: String
    var failureReason: String?
    var created: Date
    var modified: Date
    var tags: [ResourceTag]
    /// The model and variant as they were when the endpoint was created (an endpoint keeps serving
    /// after its model or config is deleted, as on AWS).
    var model: ModelRecord
    var variant: VariantRecord
}

/// Reading fields out of a JSON request with AWS-style validation messages.
struct JSONInput {
    let object: [String: Any]

    init(_ body: [UInt8]) throws {
        if body.isEmpty {
            object = [:]
            return
        }
        guard let o = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw ServiceError(.badRequest, "SerializationException", "The request body is not a JSON object.")
        }
        object = o
    }

    func string(_ k: String) -> String? { object[k] as? String }

    func required(_ k: String) throws -> String {
        guard let s = object[k] as? String, !s.isEmpty else {
            throw ServiceError.validation("1 validation error detected: Value null at '\(lowerFirst(k))' failed to satisfy constraint: Member must not be null")
        }
        return s
    }

    func name(_ k: String) throws -> String {
        let s = try required(k)
        let ok =
            s.count <= 63 && s.first.map { $0.isASCII && ($0.isLetter || $0.isNumber) } == true
            && s.last.map { $0.isASCII && ($0.isLetter || $0.isNumber) } == true
            && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        guard ok else {
            throw ServiceError.validation(
                "1 validation error detected: Value '\(s)' at '\(lowerFirst(k))' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
        }
        return s
    }

    func tags() -> [ResourceTag] {
        (object["Tags"] as? [[String: Any]] ?? []).compactMap { t in
            (t["Key"] as? String).map { ResourceTag(key: $0, value: t["Value"] as? String ?? "") }
        }
    }

    private func lowerFirst(_ s: String) -> String { s.prefix(1).lowercased() + s.dropFirst() }
}

extension ResourceTag {
    var json: [String: Any] { ["Key": key, "Value": value] }
}
