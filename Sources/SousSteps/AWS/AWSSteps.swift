import Foundation
import SousAWS
import SousCrypto
import SousEngine
import SousRecipe

/// Helpers shared by the AWS step kinds.
enum AWSSteps {
    /// The run's client for `region` (nil or empty: the configured region).
    static func client(_ ctx: StepContext, region: String?) async throws -> AWSClient {
        try await AWSClientCache.shared(ctx).client(ctx, region: region)
    }

    /// The tags sous puts on everything it creates, plus `extra` (the step's own `tags` input).
    static func tags(_ ctx: StepContext, extra: ValueMap?) -> [String: String] {
        var t: [String: String] = [
            "sous:recipe": tagValue(ctx.recipeName), "sous:run": tagValue(ctx.runID), "sous:step": tagValue(ctx.stepID),
            "sous:workspace": tagValue(ctx.layout.root),
        ]
        for e in extra ?? ValueMap() { t[e.key] = tagValue(e.value.stringValue ?? e.value.interpolationText) }
        return t
    }

    /// Tag values allow letters, digits, spaces and `_ . : / = + - @` (256 characters at most).
    static func tagValue(_ s: String) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: " _.:/=+-@"))
        let cleaned = String(String.UnicodeScalarView(s.unicodeScalars.map { allowed.contains($0) ? $0 : "_" }))
        // Keep the end of long values (the distinctive part of a path).
        return cleaned.count > 256 ? String(cleaned.suffix(256)) : cleaned
    }

    /// The SageMaker execution role: `given` (the `role` input), else SOUS_SAGEMAKER_ROLE.
    static func role(_ ctx: StepContext, given: String?) throws -> String {
        if let r = given, !r.isEmpty { return try checkRole(r) }
        if let r = ctx.environment["SOUS_SAGEMAKER_ROLE"], !r.isEmpty { return try checkRole(r) }
        throw StepError(
            "no SageMaker execution role: give the step input 'role' (an IAM role ARN such as arn:aws:iam::123456789012:role/sagemaker_execution_role) or set SOUS_SAGEMAKER_ROLE")
    }

    static func checkRole(_ r: String) throws -> String {
        guard r.hasPrefix("arn:"), r.contains(":role/") else {
            throw StepError("'\(r)' is not an IAM role ARN (expected arn:aws:iam::ACCOUNT:role/NAME)")
        }
        return r
    }

    static func strings(_ v: Value?) -> [String] { (v?.listValue ?? []).compactMap { $0.stringValue } }

    static func stringMap(_ m: ValueMap) -> [String: String] {
        var out: [String: String] = [:]
        for e in m {
            switch e.value {
            case .null: continue
            case .string(let s): out[e.key] = s
            default: out[e.key] = e.value.interpolationText
            }
        }
        return out
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds)
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
