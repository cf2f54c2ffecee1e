import Foundation
import SousCrypto
import SousEngine
import SousRecipe

/// `archive.tar`: a deterministic tar or tar.gz of a folder.
///
/// Entries are sorted, with mtime 0, uid/gid 0, owner "root", and modes 0644/0755, so the same
/// input gives the same bytes. gzip output uses stored (uncompressed) deflate blocks: model
/// weights do not compress, and this keeps sous free of a zlib dependency.
struct ArchiveTarKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "archive.tar", version: 2, category: .pure,
        summary: "Pack a folder as a deterministic tar or tar.gz (model.tar.gz for SageMaker).")

    struct Inputs: StepInputs {
        @Input(.path, "the folder to pack") var source: String
        @Input(role: .outputPath, "the archive to write, relative to the recipe's work folder (and inside it)") var output: String
        @Input(allowed: ["auto", "none", "gzip"], "gzip, none, or auto (gzip for .gz/.tgz names)") var compression: String?
        @Input(default: false, "keep the folder's own name as the top of every entry (the LMI notebooks do)") var includeTopFolder: Bool
    }

    struct Outputs: StepOutputs {
        @Output(.path, "absolute path of the archive") var path: String
        @Output("size in bytes") var size: Int
        @Output("SHA-256 of the archive") var sha256: String
        @Output("number of files packed") var files: Int
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let src = inputs.source.hasPrefix("/") ? inputs.source : ctx.layout.workDir + "/" + inputs.source
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: src, isDirectory: &isDir), isDir.boolValue else {
            throw StepError("source '\(inputs.source)' is not a folder")
        }
        let out = try ctx.confinedPath(inputs.output)
        let mode = inputs.compression ?? "auto"
        let gzip = mode == "gzip" || (mode == "auto" && (out.hasSuffix(".gz") || out.hasSuffix(".tgz")))
        let top = inputs.includeTopFolder ? (src as NSString).lastPathComponent : nil
        let result = try TarWriter.write(folder: src, to: out, topFolder: top, gzip: gzip)
        ctx.log("packed \(result.files) files into \(out) (\(result.size) bytes)")
        var outputs = Outputs()
        outputs.path = out
        outputs.size = Int(result.size)
        outputs.sha256 = result.sha256
        outputs.files = result.files
        return outputs
    }
}
