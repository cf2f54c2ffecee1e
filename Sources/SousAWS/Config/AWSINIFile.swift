import Foundation

/// A parsed AWS INI file (`~/.aws/config` or `~/.aws/credentials`).
///
/// Section names are kept as written (`default`, `profile dev`, `services local`). Nested values
/// (`s3 =` followed by indented `endpoint_url = …`) are stored as `s3.endpoint_url`.
public struct AWSINIFile: Sendable, Equatable {
    public var sections: [String: [String: String]]

    public init(sections: [String: [String: String]] = [:]) { self.sections = sections }

    /// Parses INI text; comments start with `#` or `;`; malformed lines are ignored.
    public init(parsing text: String) {
        var sections: [String: [String: String]] = [:]
        var current: String?
        var parent: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = String(rawLine).replacingOccurrences(of: "\r", with: "")
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") {
                guard let close = trimmed.firstIndex(of: "]") else { current = nil; continue }
                let name = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
                    .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                current = name
                parent = nil
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            guard let section = current, let eq = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            // Inline comments need whitespace before them (as botocore).
            for marker in [" #", " ;", "\t#", "\t;"] {
                if let r = value.range(of: marker) { value = String(value[..<r.lowerBound]).trimmingCharacters(in: .whitespaces) }
            }
            let indented = line.first == " " || line.first == "\t"
            if indented, let p = parent {
                sections[section]?["\(p).\(key)"] = value
            } else if value.isEmpty {
                parent = key
            } else {
                parent = nil
                sections[section]?[key] = value
            }
        }
        self.sections = sections
    }
}
