import Foundation
import SousCrypto
import SousEngine
import SousRecipe

/// `file.write`: writes text, or ordered key/value properties as a `.properties` file.
struct FileWriteKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "file.write", version: 1, category: .pure,
        summary: "Write a text file (or an ordered list of key/value properties, like serving.properties) into the recipe's work folder.")

    struct Inputs: StepInputs {
        @Input(role: .outputPath, "where to write, relative to the recipe's work folder (and inside it)") var path: String
        @Input("the text to write (give this or 'properties')") var content: String?
        @Input("key/value pairs rendered as key=value lines in order: a map, or a list of one-key maps") var properties: Value?
    }

    struct Outputs: StepOutputs {
        @Output(.path, "absolute path of the file written") var path: String
        @Output("the folder holding the file (other files may share it, so it is not checked for changes)") var dir: String
        @Output("SHA-256 of the file") var sha256: String
        @Output("size in bytes") var size: Int
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let path = try ctx.confinedPath(inputs.path)
        let text: String
        if let props = inputs.properties {
            guard inputs.content == nil else {
                throw StepError("give either 'content' or 'properties', not both")
            }
            text = try Self.renderProperties(props)
        } else if let content = inputs.content {
            text = content
        } else {
            throw StepError("give 'content' (text) or 'properties' (key/value pairs)")
        }
        let data = Data(text.utf8)
        try writeAtomically(data, to: path)
        ctx.log("wrote \(data.count) bytes to \(path)")
        var outputs = Outputs()
        outputs.path = path
        outputs.dir = (path as NSString).deletingLastPathComponent
        outputs.sha256 = Digest.sha256(data).hexString
        outputs.size = data.count
        return outputs
    }

    /// `key=value` lines, in order. Values that are lists or maps are written as JSON.
    static func renderProperties(_ v: Value) throws -> String {
        var pairs: [(String, Value)] = []
        switch v {
        case .map(let m): pairs = m.map { ($0.key, $0.value) }
        case .list(let items):
            for item in items {
                guard case .map(let m) = item, m.count == 1, let e = m.entries.first else {
                    throw StepError("'properties' as a list must hold one-key maps such as '- engine: MPI'")
                }
                pairs.append((e.key, e.value))
            }
        default: throw StepError("'properties' must be a map or a list of one-key maps")
        }
        var out = ""
        for (k, value) in pairs {
            let text: String
            switch value {
            case .list, .map: text = value.jsonString()
            case .null: text = ""
            default: text = value.interpolationText
            }
            guard !k.contains("="), !k.contains("\n"), !text.contains("\n") else {
                throw StepError("property '\(k)' cannot hold '=' in its key or a line break")
            }
            out += "\(k)=\(text)\n"
        }
        return out
    }
}
