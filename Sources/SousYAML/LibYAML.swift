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

/// Bounds on what one document may hold, so that a small hostile file cannot take exponential time or
/// memory from whoever walks its tree (aliases are shared when parsed, but every later walk expands them),
/// nor overflow the stack.
public enum YAMLLimits {
    /// Nodes of the document with every alias expanded (the "billion laughs" bound).
    public static let maxNodes = 100_000
    /// Sequences and mappings inside each other.
    public static let maxDepth = 128
}

/// Writes ``YAMLNode`` trees as YAML text with libyaml's emitter.
public enum YAMLEmitter {
    /// Writes `node` as one YAML document: mappings and sequences in block style (or everything in
    /// flow style on one line with `flow`), keys in their order, each scalar in the style it was
    /// read in where YAML allows that style there (libyaml quotes a plain scalar that would not read
    /// back as the same text, and writes a multi-line scalar double-quoted in flow style).
    /// Comments are not part of the tree, so none are written.
    /// - Throws: ``YAMLError`` when libyaml refuses the tree (its message, at 1:1).
    public static func emit(_ node: YAMLNode, flow: Bool = false) throws(YAMLError) -> String {
        let emitter = LibYAMLEmitter(flow: flow)
        try emitter.document(node)
        let text = String(decoding: emitter.output, as: UTF8.self)
        return flow ? text.trimmingTrailingNewlines() : text
    }
}

extension String {
    fileprivate func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}

/// Owns one `yaml_emitter_t` (heap-allocated) and the bytes it writes.
private final class LibYAMLEmitter {
    private let emitter: UnsafeMutablePointer<yaml_emitter_t>
    private let flow: Bool
    fileprivate var output: [UInt8] = []

    init(flow: Bool) {
        self.flow = flow
        emitter = .allocate(capacity: 1)
        yaml_emitter_initialize(emitter)
        yaml_emitter_set_unicode(emitter, 1)
        yaml_emitter_set_indent(emitter, 2)
        yaml_emitter_set_width(emitter, -1)
        yaml_emitter_set_output(
            emitter,
            { data, buffer, size in
                guard let data, let buffer else { return 0 }
                let me = Unmanaged<LibYAMLEmitter>.fromOpaque(data).takeUnretainedValue()
                me.output.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
                return 1
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        yaml_emitter_delete(emitter)
        emitter.deallocate()
    }

    /// Hands `event` to libyaml, which owns it from then on (also when it fails).
    private func emit(_ event: inout yaml_event_t) throws(YAMLError) {
        if yaml_emitter_emit(emitter, &event) == 0 {
            let problem = emitter.pointee.problem.map { String(cString: $0) } ?? "cannot write YAML"
            throw YAMLError(message: problem, mark: YAMLMark(line: 1, column: 1))
        }
    }

    func document(_ node: YAMLNode) throws(YAMLError) {
        var event = yaml_event_t()
        yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING)
        try emit(&event)
        yaml_document_start_event_initialize(&event, nil, nil, nil, 1)
        try emit(&event)
        try write(node)
        yaml_document_end_event_initialize(&event, 1)
        try emit(&event)
        yaml_stream_end_event_initialize(&event)
        try emit(&event)
        yaml_emitter_flush(emitter)
    }

    private func write(_ node: YAMLNode) throws(YAMLError) {
        var event = yaml_event_t()
        switch node {
        case .scalar(let text, let style, let tag, _):
            let tag = tag == "!" ? nil : tag
            // An empty plain scalar reads as null; in flow style libyaml would quote it (a string).
            let value = flow && style == .plain && tag == nil && text.isEmpty ? "null" : text
            var chosen: yaml_scalar_style_t =
                switch style {
                case .plain: YAML_PLAIN_SCALAR_STYLE
                case .singleQuoted: YAML_SINGLE_QUOTED_SCALAR_STYLE
                case .doubleQuoted: YAML_DOUBLE_QUOTED_SCALAR_STYLE
                case .literal: YAML_LITERAL_SCALAR_STYLE
                case .folded: YAML_FOLDED_SCALAR_STYLE
                }
            if flow && value.contains("\n") { chosen = YAML_DOUBLE_QUOTED_SCALAR_STYLE }
            let bytes = Array(value.utf8) + [0]
            let tagBytes = tag.map { Array($0.utf8) + [0] }
            bytes.withUnsafeBufferPointer { v in
                withOptionalBytes(tagBytes) { t in
                    _ = yaml_scalar_event_initialize(
                        &event, nil, t, v.baseAddress, Int32(bytes.count - 1),
                        tag == nil ? 1 : 0, tag == nil ? 1 : 0, chosen)
                }
            }
            try emit(&event)
        case .sequence(let items, _):
            yaml_sequence_start_event_initialize(&event, nil, nil, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE)
            try emit(&event)
            for item in items { try write(item) }
            yaml_sequence_end_event_initialize(&event)
            try emit(&event)
        case .mapping(let pairs, _):
            yaml_mapping_start_event_initialize(&event, nil, nil, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE)
            try emit(&event)
            for p in pairs {
                try write(p.key)
                try write(p.value)
            }
            yaml_mapping_end_event_initialize(&event)
            try emit(&event)
        }
    }

    private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafePointer<UInt8>?) -> R) -> R {
        guard let bytes else { return body(nil) }
        return bytes.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// Owns one `yaml_parser_t` (heap-allocated so its self-pointer stays valid) and its input bytes.
private final class LibYAMLParser {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let file: String?
    private var anchors: [String: (node: YAMLNode, expanded: Int)] = [:]
    /// Nodes so far, aliases counted as the nodes they stand for (see `YAMLLimits`).
    private var expanded = 0
    /// Sequences and mappings open around the current event.
    private var depth = 0

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

    /// Counts `count` more nodes (an alias counts as its target's expanded size).
    private func grow(by count: Int, at mark: YAMLMark, alias: String?) throws(YAMLError) {
        expanded += count
        guard expanded > YAMLLimits.maxNodes else { return }
        let what = alias.map { "alias '*\($0)' expands" } ?? "the document grows"
        throw YAMLError(
            message: "\(what) past \(YAMLLimits.maxNodes) nodes (aliases counted as what they repeat); a recipe this large is refused",
            mark: mark)
    }

    private func node(from event: inout yaml_event_t) throws(YAMLError) -> YAMLNode? {
        let mark = position(event.start_mark)
        let start = expanded
        switch event.type {
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            depth += 1
            if depth > YAMLLimits.maxDepth {
                throw YAMLError(message: "lists and maps are nested more than \(YAMLLimits.maxDepth) levels deep", mark: mark)
            }
        default: break
        }
        defer {
            if event.type == YAML_SEQUENCE_START_EVENT || event.type == YAML_MAPPING_START_EVENT { depth -= 1 }
        }
        switch event.type {
        case YAML_DOCUMENT_END_EVENT:
            return nil
        case YAML_ALIAS_EVENT:
            let name = string(event.data.alias.anchor) ?? ""
            guard let target = anchors[name] else {
                throw YAMLError(message: "unknown alias '*\(name)'", mark: mark)
            }
            try grow(by: target.expanded, at: mark, alias: name)
            return target.node
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
            try grow(by: 1, at: mark, alias: nil)
            if let anchor = string(s.anchor) { anchors[anchor] = (node, 1) }
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
            try grow(by: 1, at: mark, alias: nil)
            if let anchor { anchors[anchor] = (node, expanded - start) }
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
            try grow(by: 1, at: mark, alias: nil)
            if let anchor { anchors[anchor] = (node, expanded - start) }
            return node
        default:
            throw YAMLError(message: "unexpected YAML event", mark: mark)
        }
    }
}
