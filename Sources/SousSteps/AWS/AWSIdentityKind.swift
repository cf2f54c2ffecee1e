import Foundation
import SousAWS
import SousEngine
import SousRecipe

/// `aws.identity`: who and where the run talks to AWS as (STS GetCallerIdentity and the resolved region).
///
/// Pure, so downstream steps are cached on its outputs, but its `validate` calls STS on every run and
/// plan: when the credentials now belong to another account or principal, or the region changed, the
/// step reruns and everything that uses its outputs follows.
struct AWSIdentityKind: StepKind {
    let schema = StepKindSchema(
        kind: "aws.identity", version: 1, category: .pure,
        summary: "The AWS account, principal ARN and region the run uses (checked again on every run).",
        inputs: [
            InputSpec("region", .string, "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's region)")
        ],
        outputs: [
            OutputSpec("account", .string, "the 12-digit account id"),
            OutputSpec("arn", .string, "the ARN of the user or role the credentials belong to"),
            OutputSpec("user_id", .string, "the principal's unique id"),
            OutputSpec("region", .string, "the region the other AWS steps use"),
        ])

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let client = try await AWSSteps.client(ctx)
        let id = try await STSClient(client).getCallerIdentity()
        ctx.log("account \(id.account), \(id.arn), region \(client.region)")
        return ["account": .string(id.account), "arn": .string(id.arn), "user_id": .string(id.userId), "region": .string(client.region)]
    }

    func validate(outputs: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck {
        do {
            let client = try await AWSSteps.client(ctx)
            if let r = outputs["region"]?.stringValue, r != client.region {
                return .invalid("the AWS region changed: \(r) → \(client.region)")
            }
            let id = try await STSClient(client).getCallerIdentity()
            if let a = outputs["arn"]?.stringValue, a != id.arn {
                return .invalid("the AWS identity changed: \(a) → \(id.arn)")
            }
            return .valid
        } catch {
            return .invalid("could not check the AWS identity (\(error))")
        }
    }
}
