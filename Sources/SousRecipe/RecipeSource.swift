import Foundation

/// A file a recipe was read from: the recipe itself, a base it `extends:`, or a file of steps it
/// `include:`s. Diagnostics render their source lines from these texts.
public struct RecipeFile: Sendable, Hashable {
    /// The path as diagnostics show it (relative paths are relative to the current directory).
    public var path: String
    /// The file's text, as read.
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}

/// Where a recipe file lives. ``resolve(reference:relativeTo:)`` is the one place where a reference
/// written in `extends:` or `include:` becomes a file; ``read()`` the one place such a file is read.
struct RecipeSource: Sendable, Hashable {
    /// The path diagnostics show: the reference joined to the folder of the file that wrote it,
    /// with `.` and `..` folded away (relative when that file's path was relative).
    let path: String
    /// The absolute path with symbolic links resolved, so that two spellings of one file compare equal.
    let identity: String

    /// The recipe named on the command line, keeping `path` exactly as given.
    init(path: String) {
        self.path = path
        self.identity = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// The absolute folder holding the file (the value of `${{ recipe.dir }}` for the top recipe).
    var directory: String {
        URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path
    }

    /// Why a reference names no readable recipe file; ``description`` is the sentence to show.
    enum Problem: Error, Sendable, CustomStringConvertible {
        case empty
        case remote(String)
        case missing(String)
        case unreadable(String)
        case notUTF8(String)

        var description: String {
            switch self {
            case .empty: "expected the path of a recipe file"
            case .remote(let r): "remote recipes are not supported yet ('\(r)'); give a local path"
            case .missing(let p): "no such file (\(p))"
            case .unreadable(let p): "cannot read \(p)"
            case .notUTF8(let p): "\(p) is not UTF-8 text"
            }
        }
    }

    /// Resolves `reference`, as written in `extends:` or `include:`, against the file that wrote it.
    /// - Parameters:
    ///   - reference: an absolute path, or a path relative to the folder of `includingFile`.
    ///   - includingFile: the ``path`` of the file holding the reference.
    /// - Returns: the file it names (which may not exist; ``read()`` says so).
    /// - Throws: ``Problem/empty`` for an empty reference, ``Problem/remote(_:)`` for a URL (`scheme://…`).
    static func resolve(reference: String, relativeTo includingFile: String) throws(Problem) -> RecipeSource {
        let trimmed = reference.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { throw .empty }
        if trimmed.contains("://") { throw .remote(trimmed) }
        if trimmed.hasPrefix("/") { return RecipeSource(path: tidy(trimmed)) }
        let folder = includingFile.lastIndex(of: "/").map { String(includingFile[...$0]) } ?? ""
        return RecipeSource(path: tidy(folder + trimmed))
    }

    /// Reads the file as UTF-8 text.
    /// - Throws: ``Problem/missing(_:)``, ``Problem/unreadable(_:)`` or ``Problem/notUTF8(_:)``.
    func read() throws(Problem) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw (error as NSError).code == NSFileReadNoSuchFileError ? Problem.missing(path) : Problem.unreadable(path)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .notUTF8(path) }
        return text
    }

    /// Folds `.`, `..` and doubled slashes out of a path without touching the file system
    /// (`recipes/../common/./base.yaml` → `common/base.yaml`); leading `..` of a relative path stay.
    static func tidy(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..":
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !absolute {
                    parts.append(part)
                }
            default: parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}
