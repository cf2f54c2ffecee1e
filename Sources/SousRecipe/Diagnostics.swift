import Foundation
public import SousYAML

/// A position in a recipe file.
public struct SourceLocation: Sendable, Hashable {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
    /// The position of `mark`, in the file it names or else in `file`.
    public init(file: String, mark: YAMLMark) {
        self.init(file: mark.file ?? file, line: mark.line, column: mark.column)
    }
}

/// One problem found in a recipe, rendered like a compiler error.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    /// The offending source line (without its newline), when known.
    public var sourceLine: String?

    public init(location: SourceLocation, message: String, sourceLine: String? = nil) {
        self.location = location
        self.message = message
        self.sourceLine = sourceLine
    }

    /// `path:line:col: error: message`, then the line and a caret under the column.
    public var description: String {
        var out = "\(location.file):\(location.line):\(location.column): error: \(message)"
        if let line = sourceLine {
            out += "\n" + line + "\n"
            let prefix = line.prefix(max(0, location.column - 1)).map { (c: Character) -> String in c == "\t" ? "\t" : " " }.joined()
            out += prefix + "^"
        }
        return out
    }
}

/// A recipe that cannot be used, with every problem found.
public struct RecipeError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Collects diagnostics against the texts of a recipe's files: a mark is rendered in the file it
/// names (``YAMLMark/file``), or in `defaultFile` when it names none.
struct DiagnosticSink {
    let defaultFile: String
    private var lines: [String: [Substring]] = [:]
    var diagnostics: [Diagnostic] = []

    init(file: String, text: String) {
        self.defaultFile = file
        add(file: file, text: text)
    }

    init(files: [RecipeFile], defaultFile: String) {
        self.defaultFile = defaultFile
        for f in files { add(file: f.path, text: f.text) }
    }

    /// Makes `text` the source of marks in `file`.
    mutating func add(file: String, text: String) {
        lines[file] = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    mutating func error(_ message: String, at mark: YAMLMark) {
        let file = mark.file ?? defaultFile
        let fileLines = lines[file] ?? []
        let line = mark.line >= 1 && mark.line <= fileLines.count ? String(fileLines[mark.line - 1]).replacingCR() : nil
        let d = Diagnostic(location: SourceLocation(file: file, mark: mark), message: message, sourceLine: line)
        if !diagnostics.contains(d) { diagnostics.append(d) }
    }
}

extension String {
    fileprivate func replacingCR() -> String { hasSuffix("\r") ? String(dropLast()) : self }
}

/// "did you mean 'x'?" suggestions by edit distance.
public enum Suggest {
    /// The closest candidate within a small edit distance, if any.
    public static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        var best: (String, Int)?
        let limit = max(1, min(3, word.count / 3))
        for c in candidates {
            let d = distance(word.lowercased(), c.lowercased())
            if d <= limit, best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    /// `"; did you mean 'x'?"` or empty.
    public static func hint(_ word: String, _ candidates: some Sequence<String>) -> String {
        closest(to: word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// Optimal-string-alignment distance: edits, with a swap of neighbours counted as one.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
