public import SousYAML

/// A `shell` command line whose `${{ }}` values reach `/bin/sh` as data, never as code.
///
/// Pasting a value into command text makes the shell parse it: a param, a Hub file name or a model's
/// answer holding `;`, `$(…)`, backticks, quotes or a newline would run as commands. So, as GitHub
/// Actions recommends for `run:` scripts, every expression is replaced by a reference to an environment
/// variable, `SOUS_VALUE_<n>`, and the value travels in the process environment:
///
/// | where the expression is      | replaced by              | why                                                   |
/// |------------------------------|--------------------------|-------------------------------------------------------|
/// | unquoted, `$( )`, backticks  | `"${SOUS_VALUE_1}"`      | one word: no field splitting, no globbing             |
/// | inside `"…"`                 | `${SOUS_VALUE_1}`        | already quoted                                        |
/// | inside `'…'`                 | `'"${SOUS_VALUE_1}"'`    | closes the quote, expands quoted, reopens it          |
/// | here-document body (`<<EOF`) | `${SOUS_VALUE_1}`        | expanded, quotes there would be literal               |
/// | comment                      | `${SOUS_VALUE_1}`        | never runs                                            |
///
/// **Why this is safe by construction.** The shell never re-parses the result of a parameter expansion
/// as syntax: `;`, `$(…)`, backticks, quotes and newlines in a variable's value are characters, whatever
/// the context. The value is not part of the command text at all, so no misreading of the surrounding
/// shell syntax can make it code. The context analysis below only decides *fidelity* (the value arriving
/// byte for byte as one word); each replacement keeps the quoting around it balanced in every context —
/// `"${X}"` in double quotes closes and reopens them, `'"${X}"'` outside single quotes is a quoted literal
/// — so a mistaken guess can at worst split, glob or not expand the value, never run it. The context is
/// tracked the way POSIX sh reads it: quotes, backslashes, `$( )`, backticks, `${ }`, `$(( ))`, comments
/// and here-documents.
///
/// Refused, with the expression's position (`sous validate` reports them): `${{ secrets.* }}` (a command
/// line shows in `ps`; pass secrets through `env:`); an expression right after a backslash, inside
/// `${…}`, `$'…'` or a here-document whose delimiter is quoted (the value would not be expanded as
/// intended); and inside `$(( ))` or `(( ))`, where bash evaluates a variable's text as an arithmetic
/// expression, which can run commands (`a[$(cmd)]`).
///
/// What sous cannot prevent: a command that itself evaluates a value as code — `eval`, `sh -c "$X"`,
/// `python -c` with the value inside the program text — runs it. Read values from the environment there
/// (`os.environ["X"]` with `env:`).
public struct ShellCommand: Sendable, Hashable {
    /// One environment variable holding the value of an expression (each distinct expression once).
    public struct Variable: Sendable, Hashable {
        public var name: String
        public var reference: Reference
    }

    /// The command text the shell runs, with every expression replaced by a variable reference.
    public var text: String
    /// The variables the text refers to, in order of first use.
    public var variables: [Variable]

    /// The prefix of the variables' names.
    public static let variablePrefix = "SOUS_VALUE_"

    /// A reason an expression cannot be passed safely, at the expression.
    public struct Problem: Error, Sendable, Hashable {
        public var message: String
        public var mark: YAMLMark
    }

    /// Every problem of a command template, each at its expression.
    public struct Problems: Error, Sendable {
        public var problems: [Problem]
    }

    /// Rewrites a `command` template.
    /// - Throws: ``Problems``: every problem found, each at its expression.
    public static func rewrite(_ template: Template) throws(Problems) -> ShellCommand {
        var tokens: [Token] = []
        switch template {
        case .literal(let v, _):
            return ShellCommand(text: v.interpolationText, variables: [])
        case .expression(let r, let mark):
            tokens = [.reference(r, mark)]
        case .interpolated(let parts, let mark):
            for p in parts {
                switch p {
                case .text(let s): tokens += s.unicodeScalars.map(Token.scalar)
                case .reference(let r, let col): tokens.append(.reference(r, mark.at(column: col)))
                }
            }
        case .list(_, let mark), .map(_, let mark):
            throw Problems(problems: [Problem(message: "a command must be a string", mark: mark)])
        }
        var lexer = Lexer(tokens: tokens)
        lexer.run()
        if !lexer.problems.isEmpty { throw Problems(problems: lexer.problems) }
        return ShellCommand(text: lexer.output, variables: lexer.variables)
    }

    enum Token {
        case scalar(Unicode.Scalar)
        case reference(Reference, YAMLMark)
    }

    /// How a variable reference is written, by the context it lands in.
    enum Form {
        case bare, doubleQuoted, singleQuoted, plain

        func render(_ name: String) -> String {
            switch self {
            case .bare: "\"${\(name)}\""
            case .doubleQuoted, .plain: "${\(name)}"
            case .singleQuoted: "'\"${\(name)}\"'"
            }
        }
    }

    /// A reader of POSIX sh syntax that only tracks the quoting context, copying the text through and
    /// replacing expressions.
    struct Lexer {
        enum Frame: Equatable {
            /// Top level, `$( )` (`commandSubstitution`, closed by `)`) or backticks (`backtick`): ordinary
            /// shell words; `parens` counts the subshell parentheses opened inside.
            case words(parens: Int, commandSubstitution: Bool, backtick: Bool)
            case double
            case single
            /// `$'…'` (bash's ANSI-C quoting).
            case ansiC
            /// `${…}`, with the depth of braces inside.
            case parameter(braces: Int)
            /// `$(( ))` or `(( ))`, with the depth of parentheses inside.
            case arithmetic(parens: Int)
            case comment
        }

        struct HereDocument {
            var delimiter: String
            var quoted: Bool
            var stripTabs: Bool
        }

        let tokens: [Token]
        var i = 0
        var stack: [Frame] = [.words(parens: 0, commandSubstitution: false, backtick: false)]
        var pending: [HereDocument] = []
        var output = ""
        var variables: [Variable] = []
        var problems: [Problem] = []

        init(tokens: [Token]) { self.tokens = tokens }

        func scalar(at k: Int) -> Unicode.Scalar? {
            guard k < tokens.count, case .scalar(let c) = tokens[k] else { return nil }
            return c
        }

        mutating func name(for r: Reference) -> String {
            if let v = variables.first(where: { $0.reference == r }) { return v.name }
            let v = Variable(name: ShellCommand.variablePrefix + String(variables.count + 1), reference: r)
            variables.append(v)
            return v.name
        }

        mutating func refuse(_ r: Reference, _ mark: YAMLMark, _ why: String) {
            let advice = why.hasPrefix("inside an arithmetic")
                ? "pass it through 'env:' and check that it is a number before computing with it"
                : "give the value to the command through 'env:' and use \"$NAME\""
            problems.append(Problem(message: "${{ \(r) }} cannot be passed safely \(why); \(advice)", mark: mark))
        }

        /// Copies the next `n` scalars to the output and moves past them.
        mutating func copy(_ n: Int = 1) {
            for _ in 0..<n {
                if case .scalar(let c)? = tokens.indices.contains(i) ? tokens[i] : nil { output.unicodeScalars.append(c) }
                i += 1
            }
        }

        /// Copies `n` scalars that start `frame`, and enters it.
        mutating func open(_ frame: Frame, copying n: Int = 1) {
            copy(n)
            stack.append(frame)
        }

        /// Copies `n` scalars that end the current frame, and leaves it.
        mutating func close(copying n: Int = 1) {
            copy(n)
            stack.removeLast()
        }

        /// Copies one scalar that changes the current frame's state (a nesting depth).
        mutating func replaceTop(_ frame: Frame) {
            copy()
            stack[stack.count - 1] = frame
        }

        /// Handles a backslash at `i`: the next token is escaped.
        mutating func escape() {
            copy()
            if i < tokens.count, case .reference(let r, let mark) = tokens[i] {
                refuse(r, mark, "right after a backslash")
                i += 1
            } else {
                copy()
            }
        }

        mutating func substitute(_ r: Reference, _ mark: YAMLMark, _ form: Form?, _ why: String) {
            if case .secret(let n) = r {
                problems.append(Problem(
                    message: "${{ secrets.\(n) }} cannot be used in a command line: it would show in the process list (ps); "
                        + "pass it through 'env:' (env: {\(n.uppercased().replacing("-", with: "_")): \"${{ secrets.\(n) }}\"}) and use \"$\(n.uppercased().replacing("-", with: "_"))\" in the command",
                    mark: mark))
                return
            }
            guard let form else { return refuse(r, mark, why) }
            output += form.render(name(for: r))
        }

        /// Whether the scalar before `i` ends a word (so `#` there starts a comment).
        func atWordStart() -> Bool {
            guard i > 0 else { return true }
            guard case .scalar(let p) = tokens[i - 1] else { return false }
            return " \t\n;&|()<>".unicodeScalars.contains(p)
        }

        mutating func run() {
            while i < tokens.count {
                let frame = stack[stack.count - 1]
                if case .reference(let r, let mark) = tokens[i] {
                    i += 1
                    switch frame {
                    case .words: substitute(r, mark, .bare, "")
                    case .double: substitute(r, mark, .doubleQuoted, "")
                    case .single: substitute(r, mark, .singleQuoted, "")
                    case .comment: substitute(r, mark, .plain, "")
                    case .ansiC: substitute(r, mark, nil, "inside $'…'")
                    case .parameter: substitute(r, mark, nil, "inside ${…}")
                    case .arithmetic: substitute(r, mark, nil, "inside an arithmetic expression ($(( )) or (( ))), where bash evaluates a value's text as code")
                    }
                    continue
                }
                guard case .scalar(let c) = tokens[i] else { continue }
                switch frame {
                case .words(let parens, let commandSubstitution, let backtick):
                    words(c, parens: parens, commandSubstitution: commandSubstitution, backtick: backtick)
                case .double:
                    switch c {
                    case "\\": escape()
                    case "\"": close()
                    case "`": open(.words(parens: 0, commandSubstitution: false, backtick: true))
                    case "$": dollar(inDoubleQuotes: true)
                    default: copy()
                    }
                case .single:
                    copy()
                    if c == "'" { stack.removeLast() }
                case .ansiC:
                    if c == "\\" { escape() } else {
                        copy()
                        if c == "'" { stack.removeLast() }
                    }
                case .parameter(let braces):
                    switch c {
                    case "\\": escape()
                    case "'": open(.single)
                    case "\"": open(.double)
                    case "`": open(.words(parens: 0, commandSubstitution: false, backtick: true))
                    case "$": dollar(inDoubleQuotes: false)
                    case "{": replaceTop(.parameter(braces: braces + 1))
                    case "}" where braces > 0: replaceTop(.parameter(braces: braces - 1))
                    case "}": close()
                    default: copy()
                    }
                case .arithmetic(let parens):
                    switch c {
                    case "(": replaceTop(.arithmetic(parens: parens + 1))
                    case ")" where parens > 0: replaceTop(.arithmetic(parens: parens - 1))
                    case ")" where scalar(at: i + 1) == ")": close(copying: 2)
                    case "$": dollar(inDoubleQuotes: false)
                    default: copy()
                    }
                case .comment:
                    if c == "\n" { stack.removeLast() } else { copy() }
                }
            }
        }

        /// A scalar among ordinary words (top level, `$( )`, backticks).
        mutating func words(_ c: Unicode.Scalar, parens: Int, commandSubstitution: Bool, backtick: Bool) {
            switch c {
            case "\\": escape()
            case "'": open(.single)
            case "\"": open(.double)
            case "`" where backtick: close()
            case "`": open(.words(parens: 0, commandSubstitution: false, backtick: true))
            case "$": dollar(inDoubleQuotes: false)
            case "(" where scalar(at: i + 1) == "(": open(.arithmetic(parens: 0), copying: 2)
            case "(": replaceTop(.words(parens: parens + 1, commandSubstitution: commandSubstitution, backtick: backtick))
            case ")" where parens > 0: replaceTop(.words(parens: parens - 1, commandSubstitution: commandSubstitution, backtick: backtick))
            case ")" where commandSubstitution: close()
            case "#" where atWordStart(): open(.comment)
            case "<" where scalar(at: i + 1) == "<" && scalar(at: i + 2) == "<":
                copy(3)  // bash's here-string: a word follows, read as words are
            case "<" where scalar(at: i + 1) == "<":
                hereDocumentOperator()
            case "\n":
                copy()
                if !pending.isEmpty { hereDocumentBodies() }
            default:
                copy()
            }
        }

        /// `$` at `i`: command substitution, arithmetic, parameter expansion, ANSI-C quoting, or a plain `$`.
        mutating func dollar(inDoubleQuotes: Bool) {
            switch (scalar(at: i + 1), scalar(at: i + 2)) {
            case ("(", "("): open(.arithmetic(parens: 0), copying: 3)
            case ("(", _): open(.words(parens: 0, commandSubstitution: true, backtick: false), copying: 2)
            case ("{", _): open(.parameter(braces: 0), copying: 2)
            case ("'", _) where !inDoubleQuotes: open(.ansiC, copying: 2)
            default:
                copy()
            }
        }

        /// `<<WORD` or `<<-WORD` at `i`: the body starts after the next unquoted newline.
        mutating func hereDocumentOperator() {
            copy(2)
            let stripTabs = scalar(at: i) == "-"
            if stripTabs { copy() }
            while let c = scalar(at: i), c == " " || c == "\t" { copy() }
            var delimiter = ""
            var quoted = false
            var quote: Unicode.Scalar?
            while i < tokens.count {
                if case .reference(let r, let mark) = tokens[i] {
                    i += 1
                    substitute(r, mark, nil, "in a here-document's delimiter")
                    continue
                }
                guard let c = scalar(at: i) else { break }
                if let q = quote {
                    copy()
                    if c == q { quote = nil } else { delimiter.unicodeScalars.append(c) }
                    continue
                }
                if " \t\n;&|()<>".unicodeScalars.contains(c) { break }
                switch c {
                case "'", "\"":
                    quoted = true
                    quote = c
                    copy()
                case "\\":
                    quoted = true
                    copy()
                    if let n = scalar(at: i) {
                        delimiter.unicodeScalars.append(n)
                        copy()
                    }
                default:
                    delimiter.unicodeScalars.append(c)
                    copy()
                }
            }
            if !delimiter.isEmpty { pending.append(HereDocument(delimiter: delimiter, quoted: quoted, stripTabs: stripTabs)) }
        }

        /// The bodies of the pending here-documents, from `i` (just after a newline) to their delimiter lines.
        mutating func hereDocumentBodies() {
            let documents = pending
            pending = []
            for doc in documents {
                while i < tokens.count {
                    // Is this line the delimiter?
                    var k = i
                    var line = ""
                    var hasReference = false
                    while k < tokens.count {
                        guard case .scalar(let c) = tokens[k] else {
                            hasReference = true
                            k += 1
                            continue
                        }
                        if c == "\n" { break }
                        line.unicodeScalars.append(c)
                        k += 1
                    }
                    let compared = doc.stripTabs ? String(line.drop { $0 == "\t" }) : line
                    if !hasReference && compared == doc.delimiter {
                        copy(k - i + 1)
                        break
                    }
                    // A body line: expressions expand unquoted (quotes would be literal here).
                    while i < k {
                        switch tokens[i] {
                        case .reference(let r, let mark):
                            i += 1
                            substitute(r, mark, doc.quoted ? nil : .plain, "in a here-document whose delimiter is quoted (it would not be expanded)")
                        case .scalar("\\") where !doc.quoted && i + 1 < k:
                            escape()
                        case .scalar:
                            copy()
                        }
                    }
                    copy()  // the newline
                }
            }
        }
    }
}
