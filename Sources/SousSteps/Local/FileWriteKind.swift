import Foundation
import SousCrypto
import SousEngine
import SousRecipe

/// `file.write`: writes text, or ordered key/value properties as a `.properties` file.
struct FileWriteKind: StepKind {
    let schema = StepKindSchema(
        kind: "file.write", version: 1, category: .pure,
        summary: "Write a text file (or an ordered list of key/value properties, like serving.properties) into the recipe's work folder.",
        inputs: [
            InputSpec("path", .string, required: true, role: .outputPath, "where to write, relative to the recipe's work folder (and inside it)"),
            InputSpec("content", .string, "the text to write (give this or 'properties')"),
            InputSpec("properties", .any, "key/value pairs rendered as key=value lines in order: a map, or a list of one-key maps"),
        ],
        outputs: [
            OutputSpec("path", .path, "absolute path of the file written"),
            OutputSpec("dir", .string, "the folder holding the file (other files may share it, so it is not checked for changes)"),
            OutputSpec("sha256", .string, "SHA-256 of the file"),
            OutputSpec("size", .int, "size in bytes"),
        ])

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let path = try ctx.confinedPath(try ctx.string("path"))
        let text: String
        if let props = ctx.inputs["properties"], props != .null {
            guard ctx.optionalString("content") == nil else {
                throw StepError("give either 'content' or 'properties', not both")
            }
            text = try Self.renderProperties(props)
        } else if let content = ctx.optionalString("content") {
            text = content
        } else {
            throw StepError("give 'content' (text) or 'properties' (key/value pairs)")
        }
        let data = Data(text.utf8)
        try writeAtomically(data, to: path)
        ctx.log("wrote \(data.count) bytes to \(path)")
        return [
            "path": .string(path), "dir": .string((path as NSString).deletingLastPathComponent),
            "sha256": .string(Digest.sha256(data).hexString), "size": .int(data.count),
        ]
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
