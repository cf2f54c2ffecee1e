import Foundation
import HTTPTypes

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
    var environment: [String: String]
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
