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

    /// Warns when a secret is about to be stored in plain text in a cloud resource: a value of map input `input`
    /// (a model's `env`, `tags`; `values` is the resolved map) that holds a secret's value. The secret is still sent (the step does what the
    /// recipe says); the warning says who can read it and how to keep it out.
    static func warnPlainTextSecrets(_ ctx: StepContext, _ values: ValueMap?, input: String, in place: String, readers: String) {
        let leaked = (values ?? ValueMap()).filter { e in
            let text = e.value.stringValue ?? e.value.interpolationText
            return !text.isEmpty && ctx.redact(text) != text
        }.map { "\(input).\($0.key)" }
        guard !leaked.isEmpty else { return }
        ctx.warn(Self.plainTextSecretWarning(leaked, in: place, readers: readers))
    }

    /// The lines `sous plan` shows for the same case, from the inputs as shown: values that hold a secret (`***`).
    static func plainTextSecretNotes(_ shown: ValueMap?, input: String, in place: String, readers: String) -> [String] {
        let leaked = (shown ?? ValueMap()).filter { ($0.value.stringValue ?? $0.value.interpolationText).contains("***") }
            .map { "\(input).\($0.key)" }
        return leaked.isEmpty ? [] : ["⚠ " + plainTextSecretWarning(leaked, in: place, readers: readers)]
    }

    static func plainTextSecretWarning(_ leaked: [String], in place: String, readers: String) -> String {
        "\(place) would hold a secret in plain text (\(leaked.joined(separator: ", "))): anyone allowed \(readers) in the account can read it, "
            + "until the resource is deleted; keep tokens out of it, e.g. serve the weights from S3 as the shipped TGI recipes do "
            + "(hf.snapshot → s3.upload → model_data_prefix with HF_MODEL_ID=/opt/ml/model)"
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
