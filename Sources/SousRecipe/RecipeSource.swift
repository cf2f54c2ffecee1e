import Foundation

/// A file a recipe was read from: the recipe itself, a base it `extends:`, or a file of steps it
/// `include:`s. Diagnostics render their source lines from these texts.
public struct RecipeFile: Sendable, Hashable {
    /// The path as diagnostics show it (relative paths are relative to the current directory), or
    /// the URL of a file fetched from the web (without its `#sha256=` pin).
    public var path: String
    /// The file's text, as read.
    public var text: String
    /// The SHA-256 (lowercase hex) of a fetched file's bytes, which pins it; nil for a local file.
    public var sha256: String?

    public init(path: String, text: String, sha256: String? = nil) {
        self.path = path
        self.text = text
        self.sha256 = sha256
    }
}

/// Where a recipe file lives: a path on this machine or a URL. ``resolve(reference:relativeTo:)``
/// is the one place where a reference written in `extends:` or `include:` becomes a file; ``read()``
/// the one place a local file is read (remote files come from a ``RemoteRecipeFetcher``).
struct RecipeSource: Sendable, Hashable {
    /// The path diagnostics show: the reference joined to the folder of the file that wrote it,
    /// with `.` and `..` folded away (relative when that file's path was relative); for a remote
    /// file, its URL without the pin.
    let path: String
    /// The absolute path with symbolic links resolved, so that two spellings of one file compare
    /// equal; for a remote file, its URL.
    let identity: String
    /// The URL and pin of a remote file; nil for a local one.
    let remote: RemoteRecipeReference?

    /// The recipe named on the command line, keeping `path` exactly as given.
    init(path: String) {
        self.path = path
        self.identity = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        self.remote = nil
    }

    /// A file on the web.
    init(remote: RemoteRecipeReference) {
        self.path = remote.url
        self.identity = remote.url
        self.remote = remote
    }

    /// The absolute folder holding the file (the value of `${{ recipe.dir }}` for the top recipe);
    /// for a remote file, the URL of its folder (``RemoteRecipeReference/folder``).
    var directory: String {
        if let remote { return remote.folder }
        return URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path
    }

    /// Why a reference names no readable recipe file; ``description`` is the sentence to show.
    enum Problem: Error, Sendable, CustomStringConvertible {
        case empty
        case noFetcher(String)
        case reference(RecipeReferenceError)
        case missing(String)
        case unreadable(String)
        case notUTF8(String)

        var description: String {
            switch self {
            case .empty: "expected the path of a recipe file"
            case .noFetcher(let r): "remote recipes need a fetcher, which this loader was not given ('\(r)'); give a local path"
            case .reference(let e): e.description
            case .missing(let p): "no such file (\(p))"
            case .unreadable(let p): "cannot read \(p)"
            case .notUTF8(let p): "\(p) is not UTF-8 text"
            }
        }
    }

    /// Resolves `reference`, as written in `extends:` or `include:`, against the file that wrote it.
    /// - Parameters:
    ///   - reference: an absolute path, a path relative to the folder of `includingFile`, or a
    ///     remote reference (``RemoteRecipeReference``). Inside a remote file, a relative path is
    ///     resolved against its URL, and a path on this machine (`/…`, `~…`) is refused.
    ///   - includingFile: the file holding the reference.
    ///   - remoteAllowed: whether remote files can be fetched (a loader with a fetcher).
    /// - Returns: the file it names (which may not exist; ``read()`` says so).
    /// - Throws: ``Problem/empty`` for an empty reference, ``Problem/reference(_:)`` for a reference
    ///   that cannot name a fetchable file, ``Problem/noFetcher(_:)`` for a URL without a fetcher.
    static func resolve(reference: String, relativeTo includingFile: RecipeSource, remoteAllowed: Bool) throws(Problem) -> RecipeSource {
        let trimmed = reference.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { throw .empty }
        if let base = includingFile.remote {
            let target: RemoteRecipeReference
            do { target = try base.resolve(trimmed) } catch { throw .reference(error) }
            guard remoteAllowed else { throw .noFetcher(trimmed) }
            return RecipeSource(remote: target)
        }
        if RemoteRecipeReference.isRemote(trimmed) {
            let target: RemoteRecipeReference
            do { target = try RemoteRecipeReference.parse(trimmed) } catch { throw .reference(error) }
            guard remoteAllowed else { throw .noFetcher(trimmed) }
            return RecipeSource(remote: target)
        }
        if trimmed.hasPrefix("/") { return RecipeSource(path: tidy(trimmed)) }
        let folder = includingFile.path.lastIndex(of: "/").map { String(includingFile.path[...$0]) } ?? ""
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
