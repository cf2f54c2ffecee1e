internal import CSousYAML

/// Parses YAML text into a ``YAMLNode`` tree with libyaml. This is the only file that touches libyaml.
public enum YAMLParser {
    /// Parses the first document of `text`.
    /// - Parameters:
    ///   - text: the YAML text.
    ///   - file: the name every ``YAMLMark`` of the result (and of an error) carries, if any.
    /// - Returns: the root node, or nil for an empty document.
    /// - Throws: ``YAMLError`` with the position of a syntax error, a duplicate key, or a bad alias.
    public static func parse(_ text: String, file: String? = nil) throws(YAMLError) -> YAMLNode? {
        let parser = LibYAMLParser(text: text, file: file)
        return try parser.parseDocument()
    }
}

/// Owns one `yaml_parser_t` (heap-allocated so its self-pointer stays valid) and its input bytes.
private final class LibYAMLParser {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let file: String?
    private var anchors: [String: YAMLNode] = [:]

    init(text: String, file: String?) {
        self.file = file
        parser = .allocate(capacity: 1)
        yaml_parser_initialize(parser)
        let bytes = Array(text.utf8)
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    private func position(_ m: yaml_mark_t) -> YAMLMark {
        YAMLMark(line: Int(m.line) + 1, column: Int(m.column) + 1, file: file)
    }

    private func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
    }

    /// The next event; the caller must `yaml_event_delete` it.
    private func next() throws(YAMLError) -> yaml_event_t {
        var event = yaml_event_t()
        if yaml_parser_parse(parser, &event) == 0 {
            let problem = string(UnsafeMutablePointer(mutating: parser.pointee.problem).map {
                UnsafeMutableRawPointer($0).assumingMemoryBound(to: yaml_char_t.self)
            }) ?? "invalid YAML"
            var message = problem
            if let ctx = parser.pointee.context {
                message = "\(String(cString: ctx)): \(problem)"
            }
            var mark = position(parser.pointee.problem_mark)
            let context = position(parser.pointee.context_mark)
            if parser.pointee.context != nil, context != mark {
                message += " (the construct started at line \(context.line), column \(context.column))"
            }
            // At the end of input, point at the end of the last line rather than at nothing.
            if Int(parser.pointee.problem_mark.index) >= input.count, mark.column == 1, mark.line > 1 {
                let lines = String(decoding: UnsafeBufferPointer(input), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                let lastIndex = lines.count >= 2 && lines.last == "" ? lines.count - 2 : lines.count - 1
                mark = YAMLMark(line: lastIndex + 1, column: lines[lastIndex].count + 1, file: file)
            }
            throw YAMLError(message: message, mark: mark)
        }
        return event
    }

    func parseDocument() throws(YAMLError) -> YAMLNode? {
        var root: YAMLNode?
        while true {
            var event = try next()
            let type = event.type
            switch type {
            case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
                yaml_event_delete(&event)
            case YAML_DOCUMENT_START_EVENT:
                yaml_event_delete(&event)
                if root != nil { return root }
                root = try parseNode()
            case YAML_STREAM_END_EVENT:
                yaml_event_delete(&event)
                return root
            default:
                let m = position(event.start_mark)
                yaml_event_delete(&event)
                throw YAMLError(message: "unexpected YAML event", mark: m)
            }
        }
    }

    /// Parses one node whose first event is read here; returns nil at a document end (empty document).
    private func parseNode() throws(YAMLError) -> YAMLNode? {
        var event = try next()
        defer { yaml_event_delete(&event) }
        return try node(from: &event)
    }

    private func node(from event: inout yaml_event_t) throws(YAMLError) -> YAMLNode? {
        let mark = position(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_END_EVENT:
            return nil
        case YAML_ALIAS_EVENT:
            let name = string(event.data.alias.anchor) ?? ""
            guard let target = anchors[name] else {
                throw YAMLError(message: "unknown alias '*\(name)'", mark: mark)
            }
            return target
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let value = String(
                decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
            let style: YAMLScalarStyle =
                switch s.style {
                case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
                case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
                case YAML_LITERAL_SCALAR_STYLE: .literal
                case YAML_FOLDED_SCALAR_STYLE: .folded
                default: .plain
                }
            let node = YAMLNode.scalar(value, style: style, tag: string(s.tag), mark: mark)
            if let anchor = string(s.anchor) { anchors[anchor] = node }
            return node
        case YAML_SEQUENCE_START_EVENT:
            let anchor = string(event.data.sequence_start.anchor)
            var items: [YAMLNode] = []
            while true {
                var child = try next()
                if child.type == YAML_SEQUENCE_END_EVENT {
                    yaml_event_delete(&child)
                    break
                }
                defer { yaml_event_delete(&child) }
                if let n = try node(from: &child) { items.append(n) }
            }
            let node = YAMLNode.sequence(items, mark: mark)
            if let anchor { anchors[anchor] = node }
            return node
        case YAML_MAPPING_START_EVENT:
            let anchor = string(event.data.mapping_start.anchor)
            var pairs: [YAMLPair] = []
            var seen: [String: YAMLMark] = [:]
            while true {
                var keyEvent = try next()
                if keyEvent.type == YAML_MAPPING_END_EVENT {
                    yaml_event_delete(&keyEvent)
                    break
                }
                let key: YAMLNode?
                do {
                    defer { yaml_event_delete(&keyEvent) }
                    key = try node(from: &keyEvent)
                }
                guard let key, let value = try parseNode() else {
                    throw YAMLError(message: "incomplete mapping", mark: mark)
                }
                if let text = key.scalarText {
                    if let first = seen[text] {
                        throw YAMLError(
                            message: "duplicate key '\(text)' (first defined at line \(first.line))",
                            mark: key.mark)
                    }
                    seen[text] = key.mark
                }
                pairs.append(YAMLPair(key: key, value: value))
            }
            let node = YAMLNode.mapping(pairs, mark: mark)
            if let anchor { anchors[anchor] = node }
            return node
        default:
            throw YAMLError(message: "unexpected YAML event", mark: mark)
        }
    }
}
