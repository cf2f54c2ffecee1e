import Foundation

/// Shell-style pattern matching with Python's `fnmatch.fnmatchcase` semantics, as huggingface_hub uses
/// it for `allow_patterns` / `ignore_patterns`: case-sensitive, `*` matches any run of characters
/// **including `/`**, `?` one character, `[seq]` / `[!seq]` a set (ranges allowed; an unclosed `[` is literal).
public enum HubPattern {
    /// True when `name` matches `pattern` (fnmatchcase).
    public static func matches(_ name: String, _ pattern: String) -> Bool {
        let n = Array(name.unicodeScalars)
        let p = Array(pattern.unicodeScalars)
        var i = 0
        var j = 0
        var starJ = -1
        var starI = 0
        while i < n.count {
            if j < p.count {
                if p[j] == "*" {
                    starJ = j
                    starI = i
                    j += 1
                    continue
                }
                if let next = step(p, j, n[i]) {
                    i += 1
                    j = next
                    continue
                }
            }
            guard starJ >= 0 else { return false }
            starI += 1
            i = starI
            j = starJ + 1
        }
        while j < p.count && p[j] == "*" { j += 1 }
        return j == p.count
    }

    /// Matches one character against the token at `p[j]`; returns the index after the token, or nil.
    private static func step(_ p: [Unicode.Scalar], _ j: Int, _ c: Unicode.Scalar) -> Int? {
        switch p[j] {
        case "?":
            return j + 1
        case "[":
            guard let (matched, end) = matchSet(p, j, c) else { return c == "[" ? j + 1 : nil }
            return matched ? end : nil
        default:
            return p[j] == c ? j + 1 : nil
        }
    }

    /// Parses the set starting at `p[j] == "["`; nil when it is not closed (then `[` is a literal).
    private static func matchSet(_ p: [Unicode.Scalar], _ j: Int, _ c: Unicode.Scalar) -> (Bool, Int)? {
        var k = j + 1
        var negate = false
        if k < p.count && p[k] == "!" {
            negate = true
            k += 1
        }
        var first = true
        var matched = false
        while k < p.count {
            if p[k] == "]" && !first {
                return (matched != negate, k + 1)
            }
            first = false
            if k + 2 < p.count && p[k + 1] == "-" && p[k + 2] != "]" {
                if p[k] <= c && c <= p[k + 2] { matched = true }
                k += 3
            } else {
                if p[k] == c { matched = true }
                k += 1
            }
        }
        return nil
    }

    /// huggingface_hub's `filter_repo_objects`: keeps a path when (no allow list, or it matches one allow
    /// pattern) and it matches no ignore pattern. A pattern ending in `/` gets `*` appended.
    public static func filter(_ paths: [String], allow: [String]?, ignore: [String]?) -> [String] {
        func normalized(_ list: [String]?) -> [String]? {
            list?.map { p in
                let q = p.replacingOccurrences(of: "\\", with: "/")
                return q.hasSuffix("/") ? q + "*" : q
            }
        }
        let allow = normalized(allow)
        let ignore = normalized(ignore)
        return paths.filter { path in
            if let allow, !allow.contains(where: { matches(path, $0) }) { return false }
            if let ignore, ignore.contains(where: { matches(path, $0) }) { return false }
            return true
        }
    }
}
