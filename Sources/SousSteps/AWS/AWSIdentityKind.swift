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
    static let configuration = StepKindConfiguration(
        name: "aws.identity", version: 1, category: .pure,
        summary: "The AWS account, principal ARN and region the run uses (checked again on every run).")

    struct Inputs: StepInputs {
        @Input("AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's region)") var region: String?
    }

    struct Outputs: StepOutputs {
        @Output("the 12-digit account id") var account: String
        @Output("the ARN of the user or role the credentials belong to") var arn: String
        @Output("the principal's unique id") var userId: String
        @Output("the region the other AWS steps use") var region: String
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let client = try await AWSSteps.client(ctx, region: inputs.region)
        let id = try await STSClient(client).getCallerIdentity()
        ctx.log("account \(id.account), \(id.arn), region \(client.region)")
        var outputs = Outputs()
        outputs.account = id.account
        outputs.arn = id.arn
        outputs.userId = id.userId
        outputs.region = client.region
        return outputs
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        do {
            let client = try await AWSSteps.client(ctx, region: inputs.region)
            if outputs.region != client.region {
                return .invalid("the AWS region changed: \(outputs.region) → \(client.region)")
            }
            let id = try await STSClient(client).getCallerIdentity()
            if outputs.arn != id.arn {
                return .invalid("the AWS identity changed: \(outputs.arn) → \(id.arn)")
            }
            return .valid
        } catch {
            return .invalid("could not check the AWS identity (\(error))")
        }
    }
}
