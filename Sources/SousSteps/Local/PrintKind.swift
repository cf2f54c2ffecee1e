import Foundation
import SousCrypto
import SousEngine
import SousRecipe

/// `print`: shows values like a notebook cell's output.
struct PrintKind: StepKind {
    let schema = StepKindSchema(
        kind: "print", version: 1, category: .effect,
        summary: "Print a message or values, like a notebook cell's output.",
        inputs: [
            InputSpec("message", .string, "text to print"),
            InputSpec("values", .map, "name: value pairs printed one per line"),
        ],
        outputs: [OutputSpec("text", .string, "what was printed")])

    func run(_ ctx: StepContext) async throws -> ValueMap {
        var text = ""
        if let m = ctx.optionalString("message") { text += m + (m.hasSuffix("\n") ? "" : "\n") }
        for e in ctx.map("values") {
            text += "\(e.key): \(e.value.stringValue ?? e.value.jsonString())\n"
        }
        if text.isEmpty { throw StepError("give 'message' or 'values' to print") }
        ctx.write(text)
        return ["text": .string(ctx.redact(text))]
    }
}
