import Foundation
import SousBasics
import SousCrypto
import SousEngine
import SousRecipe

/// `archive.tar`: a deterministic tar or tar.gz of a folder.
///
/// Entries are sorted, with mtime 0, uid/gid 0, owner "root", and modes 0644/0755, so the same
/// input gives the same bytes. gzip output uses stored (uncompressed) deflate blocks: model
/// weights do not compress, and this keeps sous free of a zlib dependency.
struct ArchiveTarKind: StepKind {
    let schema = StepKindSchema(
        kind: "archive.tar", version: 2, category: .pure,
        summary: "Pack a folder as a deterministic tar or tar.gz (model.tar.gz for SageMaker).",
        inputs: [
            InputSpec("source", .path, required: true, "the folder to pack"),
            InputSpec("output", .string, required: true, role: .outputPath, "the archive to write, relative to the recipe's work folder (and inside it)"),
            InputSpec("compression", .string, allowed: ["auto", "none", "gzip"], "gzip, none, or auto (gzip for .gz/.tgz names)"),
            InputSpec("include_top_folder", .bool, default: .bool(false), "keep the folder's own name as the top of every entry (the LMI notebooks do)"),
        ],
        outputs: [
            OutputSpec("path", .path, "absolute path of the archive"),
            OutputSpec("size", .int, "size in bytes"),
            OutputSpec("sha256", .string, "SHA-256 of the archive"),
            OutputSpec("files", .int, "number of files packed"),
        ])

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let source = try ctx.string("source")
        let src = source.hasPrefix("/") ? source : ctx.layout.workDir + "/" + source
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: src, isDirectory: &isDir), isDir.boolValue else {
            throw StepError("source '\(source)' is not a folder")
        }
        let outName = try ctx.string("output")
        let out = try ctx.confinedPath(outName)
        let mode = ctx.optionalString("compression") ?? "auto"
        let gzip = mode == "gzip" || (mode == "auto" && (out.hasSuffix(".gz") || out.hasSuffix(".tgz")))
        let top = ctx.bool("include_top_folder") ? (src as NSString).lastPathComponent : nil
        // Packing reads and hashes every byte: on a thread of its own, not the task pool's.
        let result = try await onOwnThread { try TarWriter.write(folder: src, to: out, topFolder: top, gzip: gzip) }
        ctx.log("packed \(result.files) files into \(out) (\(result.size) bytes)")
        return ["path": .string(out), "size": .int(Int(result.size)), "sha256": .string(result.sha256), "files": .int(result.files)]
    }
}
