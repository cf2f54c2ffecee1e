public import SousYAML

/// The rule for paths a step writes (inputs with the role ``InputRole/outputPath``): they are relative to
/// the recipe's work folder, `WORKSPACE/<recipe>/work`, and stay inside it. Only the work folder: the
/// rest of the workspace holds sous's own files (approvals, the secret-hashing key), other recipes'
/// state and the local cloud's data, none of which a recipe may overwrite.
///
/// This is the check `sous validate` can make before anything runs, on the text as written; the engine
/// checks the resolved path again on the real file system (symbolic links followed) before the step runs.
public enum PathConfinement {
    /// The problems of a write-path template as written, each at its node.
    ///
    /// A literal path must be relative and must not climb out with `..`. A path with expressions is checked
    /// as far as it is known: the text before the first expression, or after a leading `${{ workspace }}`
    /// (which is the work folder itself). Other expressions are checked at run time.
    public static func problems(_ template: Template) -> [(message: String, mark: YAMLMark)] {
        switch template {
        case .literal(let v, let mark):
            guard case .string(let path) = v else { return [] }
            return problem(known: path, complete: true).map { [($0, mark)] } ?? []
        case .expression:
            return []
        case .interpolated(let parts, let mark):
            var known: String
            var rest = parts[...]
            switch rest.first {
            case .text(let t)?:
                known = t
                rest = rest.dropFirst()
            case .reference(.workspace, _)?:
                rest = rest.dropFirst()
                guard case .text(let t)? = rest.first else { return [] }
                rest = rest.dropFirst()
                // `${{ workspace }}/a` is `a` inside the work folder.
                known = String(t.drop { $0 == "/" })
                if known.isEmpty { return [] }
            default:
                return []
            }
            let shown = render(parts)
            return problem(known: known, complete: rest.isEmpty, shown: shown).map { [($0, mark)] } ?? []
        case .list(let items, _):
            return items.flatMap(problems)
        case .map:
            return []
        }
    }

    /// Why `path` (relative to the work folder, `..` and `.` not folded yet) leaves it, or nil.
    /// - Parameter complete: false when an expression follows: the last, partial segment is not judged.
    static func problem(known path: String, complete: Bool, shown: String? = nil) -> String? {
        let display = shown ?? path
        if path.hasPrefix("/") {
            return "'\(display)' is an absolute path: a path a step writes is relative to the recipe's work folder (WORKSPACE/<recipe>/work) and stays inside it"
        }
        var segments = path.split(separator: "/", omittingEmptySubsequences: false)
        if !complete { segments.removeLast() }
        var depth = 0
        for s in segments {
            switch s {
            case "", ".": continue
            case "..":
                depth -= 1
                if depth < 0 {
                    return "'\(display)' leaves the recipe's work folder (WORKSPACE/<recipe>/work): a step may only write inside it"
                }
            default: depth += 1
            }
        }
        return nil
    }

    static func render(_ parts: [TemplatePart]) -> String {
        parts.map { p in
            switch p {
            case .text(let s): s
            case .reference(let r, _): "${{ \(r) }}"
            }
        }.joined()
    }
}
