/// Replaces secret values (and each line of a multi-line value) with `***`.
public struct Redactor: Sendable {
    /// Fragments are matched longest first so a line of a secret never leaves part of it behind.
    public private(set) var fragments: [String] = []
    /// Fragments shorter than this are not redacted (they would garble ordinary text).
    public static let minimumLength = 4

    public init(secrets: [String] = []) { for s in secrets { add(s) } }

    public mutating func add(_ secret: String) {
        var parts = [secret]
        for line in secret.split(whereSeparator: \.isNewline) {
            parts.append(line.trimmingSpaces)
        }
        for p in parts where p.count >= Self.minimumLength && !fragments.contains(p) {
            fragments.append(p)
        }
        fragments.sort { $0.count > $1.count }
    }

    public var isEmpty: Bool { fragments.isEmpty }

    /// `text` with every secret fragment replaced.
    public func redact(_ text: String) -> String {
        guard !fragments.isEmpty else { return text }
        var out = text
        for f in fragments where out.contains(f) { out = out.replacingAll(f, with: "***") }
        return out
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}

extension String {
    /// Replaces every occurrence of `target` (no Foundation needed).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            result += rest[rest.startIndex..<r.lowerBound]
            result += replacement
            rest = rest[r.upperBound...]
        }
        result += rest
        return result
    }
}
