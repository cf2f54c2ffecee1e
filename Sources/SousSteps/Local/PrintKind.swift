import Foundation
import SousCrypto
import SousEngine
import SousRecipe

/// `print`: shows values like a notebook cell's output.
struct PrintKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "print", version: 1, category: .effect, summary: "Print a message or values, like a notebook cell's output.")

    struct Inputs: StepInputs {
        @Input("text to print") var message: String?
        @Input("name: value pairs printed one per line") var values: ValueMap?
    }

    struct Outputs: StepOutputs {
        @Output("what was printed") var text: String
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        var text = ""
        if let m = inputs.message { text += m + (m.hasSuffix("\n") ? "" : "\n") }
        for e in inputs.values ?? ValueMap() {
            text += "\(e.key): \(e.value.stringValue ?? e.value.jsonString())\n"
        }
        if text.isEmpty { throw StepError("give 'message' or 'values' to print") }
        ctx.write(text)
        var outputs = Outputs()
        outputs.text = ctx.redact(text)
        return outputs
    }
}
