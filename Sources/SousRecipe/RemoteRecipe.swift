import Foundation

/// A recipe file on the web: an `https://` URL (`http://` only on this machine: 127.0.0.1, `::1`,
/// `localhost`), or the shorthand `github:owner/repo/path/to/recipe.yaml@ref`; either may end in
/// `#sha256=<64 hex digits>`, which pins the file's content.
public struct RemoteRecipeReference: Sendable, Hashable, CustomStringConvertible {
    /// The absolute URL, without the pin (`github:` already mapped to raw.githubusercontent.com).
    public var url: String
    /// The pinned SHA-256 of the file's bytes (lowercase hex), if any.
    public var sha256: String?

    public init(url: String, sha256: String? = nil) {
        self.url = url
        self.sha256 = sha256
    }

    /// The reference as written back: the URL, then `#sha256=…` when pinned.
    public var description: String { sha256.map { "\(url)#sha256=\($0)" } ?? url }

    /// The file name without its extension (`…/llama.yaml` → `llama`): a URL recipe's default name.
    public var stem: String {
        let path = URLComponents(string: url)?.path ?? url
        let last = path.split(separator: "/").last.map(String.init) ?? "recipe"
        let stem = (last as NSString).deletingPathExtension
        return stem.isEmpty ? "recipe" : stem
    }

    /// The URL of the folder holding the file, without the trailing slash (`https://h/a/r.yaml` →
    /// `https://h/a`): the value of `${{ recipe.dir }}` for a recipe run from a URL.
    public var folder: String {
        guard let slash = url.lastIndex(of: "/"), let scheme = url.range(of: "://"), slash >= scheme.upperBound else { return url }
        return String(url[..<slash])
    }

    /// Whether `text` is written as a remote reference (`scheme://…` or `github:…`) rather than a path.
    public static func isRemote(_ text: String) -> Bool {
        let t = text.trimmingCharacters(in: .whitespaces)
        return t.hasPrefix("github:") || t.firstMatch(of: #/^[A-Za-z][A-Za-z0-9+.\-]*://#) != nil
    }

    /// Parses an absolute remote reference.
    /// - Parameter text: `https://…`, `http://127.0.0.1…`, or `github:owner/repo/path@ref`, each with
    ///   an optional `#sha256=<hex>`.
    /// - Throws: ``RecipeReferenceError`` saying what is wrong (scheme, host, pin, shorthand).
    public static func parse(_ text: String) throws(RecipeReferenceError) -> RemoteRecipeReference {
        let t = text.trimmingCharacters(in: .whitespaces)
        let (body, pin) = try splitPin(t)
        if body.hasPrefix("github:") { return RemoteRecipeReference(url: try gitHubURL(body), sha256: pin) }
        guard let c = URLComponents(string: body), let scheme = c.scheme?.lowercased() else {
            throw RecipeReferenceError("'\(t)' is not a valid URL")
        }
        guard scheme == "https" || scheme == "http" else {
            throw RecipeReferenceError(
                "unsupported URL scheme '\(scheme)' ('\(t)'): a recipe reference is a path, an https:// URL or github:owner/repo/path@ref")
        }
        guard let host = c.host, !host.isEmpty else { throw RecipeReferenceError("'\(t)' names no host") }
        if scheme == "http" && !isLoopback(host) {
            throw RecipeReferenceError(
                "'\(t)' is plain http: recipes are fetched over https:// (http:// only from 127.0.0.1 or localhost)")
        }
        if c.user != nil || c.password != nil {
            throw RecipeReferenceError(
                "a recipe URL may not hold credentials (user:password@host): it is kept in the workspace's cache and printed by `sous plan`")
        }
        var url = "\(scheme)://\(c.percentEncodedHost ?? host)"
        if let port = c.port { url += ":\(port)" }
        url += try removeDotSegments(
            c.percentEncodedPath.isEmpty ? "/" : c.percentEncodedPath, reference: t, root: url + "/")
        if let q = c.percentEncodedQuery { url += "?" + q }
        return RemoteRecipeReference(url: url, sha256: pin)
    }

    /// Resolves `reference`, written inside the remote file `self`, as RFC 3986 §5.2 does, with the
    /// limits a shared recipe has: it may name other URLs and files beside it, never a file on this
    /// machine (`/…`, `~…`), and `..` may not climb above the host's root.
    /// - Throws: ``RecipeReferenceError`` for a local path, a climb above the root, a bad URL or pin.
    public func resolve(_ reference: String) throws(RecipeReferenceError) -> RemoteRecipeReference {
        let t = reference.trimmingCharacters(in: .whitespaces)
        let secure = url.hasPrefix("https://")
        if Self.isRemote(t) {
            let target = try Self.parse(t)
            if secure && target.url.hasPrefix("http://") {
                throw RecipeReferenceError("'\(t)' is plain http, and a recipe fetched over https may only reference https URLs")
            }
            return target
        }
        if t.hasPrefix("//") {
            let scheme = url.prefix { $0 != ":" }
            return try resolve(scheme + ":" + t)
        }
        if t.hasPrefix("/") || t.hasPrefix("~") {
            throw RecipeReferenceError(
                "'\(t)' is a path on this machine, and a shared recipe can't read your files: a recipe fetched from \(url) may reference files beside it (relative paths) or URLs")
        }
        let (body, pin) = try Self.splitPin(t)
        var relPath = body
        var query: String?
        if let q = body.firstIndex(of: "?") {
            relPath = String(body[..<q])
            query = String(body[body.index(after: q)...])
        }
        guard let base = URLComponents(string: url), let scheme = base.scheme else {
            throw RecipeReferenceError("'\(url)' is not a valid URL")
        }
        let basePath = base.percentEncodedPath.isEmpty ? "/" : base.percentEncodedPath
        let merged: String
        if relPath.isEmpty {
            merged = basePath
            if query == nil { query = base.percentEncodedQuery }
        } else {
            merged = String(basePath[...basePath.lastIndex(of: "/")!]) + relPath
        }
        let origin = "\(scheme)://\(base.percentEncodedHost ?? "")\(base.port.map { ":\($0)" } ?? "")"
        let path = try Self.removeDotSegments(merged, reference: t, relativeTo: url, root: origin + "/")
        var out = origin + path
        if let query { out += "?" + query }
        guard URLComponents(string: out) != nil else { throw RecipeReferenceError("'\(t)' does not make a valid URL against \(url)") }
        return RemoteRecipeReference(url: out, sha256: pin)
    }

    /// `https://raw.githubusercontent.com/OWNER/REPO/REF/PATH` for `github:OWNER/REPO/PATH@REF`
    /// (REF defaults to `main`).
    /// - Throws: ``RecipeReferenceError`` when the shorthand lacks an owner, a repository or a path.
    public static func gitHubURL(_ shorthand: String) throws(RecipeReferenceError) -> String {
        let usage = "expected github:OWNER/REPO/PATH/TO/RECIPE.yaml@REF (REF a branch, tag or commit; default main)"
        var rest = Substring(shorthand.trimmingCharacters(in: .whitespaces).dropFirst("github:".count))
        var ref = "main"
        if let at = rest.lastIndex(of: "@") {
            ref = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            guard !ref.isEmpty, !ref.contains(where: { $0 == " " || $0 == "?" || $0 == "#" }) else {
                throw RecipeReferenceError("'\(shorthand)': empty or invalid ref after '@'; \(usage)")
            }
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        let name = #/[A-Za-z0-9_.\-]+/#
        guard parts.count >= 3, parts[0].wholeMatch(of: name) != nil, parts[1].wholeMatch(of: name) != nil,
            parts[2...].allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else {
            throw RecipeReferenceError("'\(shorthand)': \(usage)")
        }
        let path = parts[2...].joined(separator: "/")
        let encoded = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
        return "https://raw.githubusercontent.com/\(parts[0])/\(parts[1])/\(ref)/\(encoded)"
    }

    /// `127.0.0.1` (any 127.x), `::1` and `localhost`: the hosts plain http is accepted from.
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }

    /// Splits `#sha256=<hex>` off a reference.
    static func splitPin(_ text: String) throws(RecipeReferenceError) -> (String, String?) {
        guard let hash = text.firstIndex(of: "#") else { return (text, nil) }
        let fragment = text[text.index(after: hash)...]
        guard fragment.lowercased().hasPrefix("sha256=") else {
            throw RecipeReferenceError("'\(text)': a fragment pins the file's hash: #sha256=<64 hex digits>, found '#\(fragment)'")
        }
        let hex = fragment.dropFirst("sha256=".count).lowercased()
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
            throw RecipeReferenceError("'\(text)': #sha256= takes the 64 hex digits of the file's SHA-256 (`sha256sum FILE` or `sous plan URL` prints it)")
        }
        return (String(text[..<hash]), hex)
    }

    /// RFC 3986 §5.2.4 on an absolute path, except that a `..` above the root is an error rather
    /// than dropped.
    static func removeDotSegments(
        _ path: String, reference: String, relativeTo base: String? = nil, root: String? = nil
    ) throws(RecipeReferenceError) -> String {
        var out: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (i, s) in segments.enumerated() {
            let last = i == segments.count - 1
            switch s {
            case ".":
                if last { out.append("") }
            case "..":
                guard !out.isEmpty else {
                    let against = base.map { " (relative to \($0))" } ?? ""
                    throw RecipeReferenceError("'\(reference)' climbs above the root of \(root ?? "the host")\(against)")
                }
                out.removeLast()
                if last { out.append("") }
            default: out.append(s)
            }
        }
        return "/" + out.joined(separator: "/")
    }
}

/// A reference in `extends:`, `include:` or on the command line that names no fetchable file.
public struct RecipeReferenceError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A remote recipe file as fetched: its text and the SHA-256 of its bytes.
public struct FetchedRecipeFile: Sendable, Hashable {
    public var text: String
    /// Lowercase hex SHA-256 of the bytes the text was decoded from.
    public var sha256: String
    public init(text: String, sha256: String) {
        self.text = text
        self.sha256 = sha256
    }
}

/// Why a remote recipe file could not be had; ``description`` is the sentence to show (what
/// failed, and what to do).
public struct RemoteFetchError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Fetches remote recipe files for ``RecipeLoader``, which knows nothing of HTTP (SousRecipe does
/// not depend on SousHTTP): sous implements it with its HTTP client and a cache in the workspace.
public protocol RemoteRecipeFetcher: Sendable {
    /// The file `reference` names.
    /// - Important: when `reference.sha256` is set, the returned file must have that hash; a body
    ///   with another hash is an error that names both hashes. ``RecipeLoader`` checks it again.
    /// - Throws: ``RemoteFetchError`` saying what failed (an HTTP status, a network error) and how
    ///   to fix it.
    func fetch(_ reference: RemoteRecipeReference) async throws(RemoteFetchError) -> FetchedRecipeFile
}
