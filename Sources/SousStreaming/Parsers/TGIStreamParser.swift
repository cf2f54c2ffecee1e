internal import Foundation

/// Parser for TGI's output and every other line-oriented format (`StreamFormat.tgi` and `.jsonlines`): TGI
/// server-sent events (`data:{json}` with or without a space, `:` comments and keep-alives skipped, `[DONE]`
/// ignored), JSON Lines (LMI ≥ 0.26 writes TGI's `{"token": …}` objects one per line, `generated_text` at the
/// end; LMI 0.25 writes `{"outputs": […]}`), a non-streaming TGI JSON array or LMI JSON object, and
/// `{"error": …}` / `{"code": …, "error": …}` objects (also pretty-printed over several lines).
///
/// Lines are re-joined across parts and only decoded once complete, so a UTF-8 character is never split.
/// A last line without a final newline is handled by `finish` (the stream ends cleanly).
public struct TGIStreamParser: StreamParser {
    private var pending: [UInt8] = []
    /// Lines of a JSON value spread over several lines (pretty-printed error objects).
    private var multiline: [UInt8]?
    private var tokensSeen = false
    /// Reused buffer for unescaped token text.
    private var scratch: [UInt8] = []
    /// Bound on a single line or multi-line JSON value.
    public static let maxLineLength = 16 * 1024 * 1024

    public init() {}

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (StreamEvent) -> Void) {
        ClosureEmitter.with(emit) { feed(bytes, into: &$0) }
    }

    public mutating func finish(_ emit: (StreamEvent) -> Void) {
        ClosureEmitter.with(emit) { finish(into: &$0) }
    }

    /// Core of `feed`: text goes to `e.text` as bytes (no String per token).
    mutating func feed<E: StreamEmitter>(_ bytes: UnsafeRawBufferPointer, into e: inout E) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        var start = 0
        let n = bytes.count
        while start < n {
            guard let nl = memchr(base + start, 0x0A, n - start) else {
                appendPending(UnsafeRawBufferPointer(rebasing: bytes[start..<n]), &e)
                return
            }
            let end = base.distance(to: UnsafeRawPointer(nl))
            if pending.isEmpty {
                handleLine(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), &e)
            } else {
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                // Move the buffer out (no copy), parse it, and give it back empty for reuse.
                var line: [UInt8] = []
                swap(&line, &pending)
                line.withUnsafeBytes { handleLine($0, &e) }
                line.removeAll(keepingCapacity: true)
                if pending.isEmpty { swap(&line, &pending) }
            }
            start = end + 1
        }
    }

    mutating func finish<E: StreamEmitter>(into e: inout E) {
        if !pending.isEmpty {
            let line = pending
            pending = []
            line.withUnsafeBytes { handleLine($0, &e) }
        }
        if let m = multiline {
            multiline = nil
            let text = String(decoding: m.prefix(300), as: UTF8.self)
            e.event(.error(message: "the stream ended in the middle of a JSON value: \(text)"))
        }
    }

    private mutating func appendPending<E: StreamEmitter>(_ bytes: UnsafeRawBufferPointer, _ e: inout E) {
        if pending.count + bytes.count > Self.maxLineLength {
            e.event(.error(message: "a line of the stream exceeds \(Self.maxLineLength) bytes; it was dropped"))
            pending.removeAll()
            return
        }
        pending.append(contentsOf: bytes)
    }

    private mutating func handleLine<E: StreamEmitter>(_ raw: UnsafeRawBufferPointer, _ e: inout E) {
        var line = raw
        if let last = line.last, last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        if var doc = multiline {
            doc.append(0x0A)
            doc.append(contentsOf: line)
            if doc.withUnsafeBytes({ handleJSON($0, &e) }) {
                multiline = nil
                return
            }
            // A line that stands on its own (a new event) means the earlier value was malformed.
            let fresh = line.first.map { $0 == 0x7B || $0 == 0x5B || $0 == 0x64 || $0 == 0x3A } ?? false
            if fresh || doc.count > 1 << 20 {
                let text = String(decoding: doc.prefix(300), as: UTF8.self)
                e.event(.error(message: "malformed JSON in the stream: \(text)"))
                multiline = nil
                if fresh { handleLine(line, &e) }
                return
            }
            multiline = doc
            return
        }
        guard let first = line.first else { return }  // blank line (SSE event separator)
        switch first {
        case 0x3A:  // ":" SSE comment / keep-alive
            return
        case 0x64:  // "data:"
            if line.count >= 5, line[1] == 0x61, line[2] == 0x74, line[3] == 0x61, line[4] == 0x3A {
                var body = UnsafeRawBufferPointer(rebasing: line[5...])
                if body.first == 0x20 { body = UnsafeRawBufferPointer(rebasing: body.dropFirst()) }
                handleBody(body, &e)
                return
            }
            handleBody(line, &e)
        case 0x65, 0x69, 0x72:  // "event:", "id:", "retry:" SSE fields
            if let colon = line.firstIndex(of: 0x3A), colon <= 5 { return }
            handleBody(line, &e)
        default:
            handleBody(line, &e)
        }
    }

    private mutating func handleBody<E: StreamEmitter>(_ body: UnsafeRawBufferPointer, _ e: inout E) {
        var j = 0
        while j < body.count, body[j] == 0x20 || body[j] == 0x09 { j += 1 }
        guard j < body.count else { return }
        let c = body[j]
        if c == 0x7B || c == 0x5B {
            if j == 0, c == 0x7B, let t = TGITokenLine.match(body) {
                emitToken(t, body, &e)
                return
            }
            if !handleJSON(body, &e) {
                multiline = Array(body)
            }
            return
        }
        if body.count - j >= 6, memcmp(body.baseAddress! + j, "[DONE]", 6) == 0 { return }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        e.event(.error(message: "unexpected line in the stream: \(text)"))
    }

    /// Parses one JSON value; returns false when it is incomplete or malformed (nothing emitted).
    private mutating func handleJSON<E: StreamEmitter>(_ body: UnsafeRawBufferPointer, _ e: inout E) -> Bool {
        var s = JSONScanner(body)
        if s.peek() == 0x5B {
            // Non-streaming TGI: [{"generated_text": "...", "details": {...}}]
            var objects: [ParsedObject] = []
            var first = true
            guard s.beginArray() else { return false }
            while s.nextElement(&first) {
                if s.peek() == 0x7B {
                    var o = ParsedObject()
                    parseObject(&s, &o)
                    objects.append(o)
                } else {
                    s.skipValue()
                }
            }
            guard !s.failed, s.atEnd() else { return false }
            for o in objects { emitObject(o, body, wholeResponse: true, &e) }
            return true
        }
        var o = ParsedObject()
        parseObject(&s, &o)
        guard !s.failed, s.atEnd() else { return false }
        emitObject(o, body, wholeResponse: !tokensSeen, &e)
        return true
    }

    /// The fields of one event object that matter.
    private struct ParsedObject {
        var hasToken = false
        /// The token text's raw JSON string body (a range of the line), and whether it has escapes.
        var tokenText: Range<Int>?
        var tokenEscaped = false
        var tokenId: Int?
        var tokenSpecial = false
        var outputs: [String] = []
        var generatedText: String?
        var details: StreamDetails?
        var error: String?
        var errorType: String?
        var message: String?
        var hasCode = false
    }

    /// Reads one event object.
    private func parseObject(_ s: inout JSONScanner, _ o: inout ParsedObject) {
        var first = true
        guard s.beginObject() else { return }
        while let k = s.nextKey(&first) {
            if s.key(k, is: "token") {
                parseToken(&s, &o)
            } else if s.key(k, is: "generated_text") {
                o.generatedText = s.readStringOrNull()
            } else if s.key(k, is: "details") {
                o.details = parseDetails(&s)
            } else if s.key(k, is: "error") {
                if s.peek() == 0x22 { o.error = s.readStringOrNull() } else { s.skipValue() }
            } else if s.key(k, is: "error_type") {
                if s.peek() == 0x22 { o.errorType = s.readStringOrNull() } else { s.skipValue() }
            } else if s.key(k, is: "message") || s.key(k, is: "Message") {
                if s.peek() == 0x22 { o.message = s.readStringOrNull() } else { s.skipValue() }
            } else if s.key(k, is: "code") {
                o.hasCode = true
                s.skipValue()
            } else if s.key(k, is: "outputs") {
                var f = true
                guard s.beginArray() else { return }
                while s.nextElement(&f) {
                    if let t = s.readStringOrNull() { o.outputs.append(t) }
                }
            } else {
                s.skipValue()
            }
        }
    }

    /// Emits the events of a parsed object.
    private mutating func emitObject<E: StreamEmitter>(
        _ o: ParsedObject, _ body: UnsafeRawBufferPointer, wholeResponse: Bool, _ e: inout E
    ) {
        if let error = o.error {
            e.event(.error(message: o.errorType.map { "\(error) (\($0))" } ?? error))
            return
        }
        if o.hasCode, let message = o.message, !o.hasToken {
            e.event(.error(message: message))
            return
        }
        if o.hasToken {
            emitToken(TGITokenLine(text: o.tokenText, escaped: o.tokenEscaped, id: o.tokenId, special: o.tokenSpecial), body, &e)
        }
        for t in o.outputs {
            tokensSeen = true
            e.text(t, id: nil, special: false)
        }
        if o.generatedText != nil || o.details != nil {
            if !o.hasToken && o.outputs.isEmpty && wholeResponse, let text = o.generatedText, !text.isEmpty {
                // A complete, non-streaming response: its text is the output.
                tokensSeen = true
                e.text(text, id: nil, special: false)
            }
            if o.details?.finishReason == "error" {
                e.event(.error(message: "the model stopped with an error (finish_reason \"error\")"))
            } else {
                e.event(.final(generatedText: o.generatedText, details: o.details))
            }
        }
    }

    /// Emits a token whose text is the raw JSON string body `t.text` of `body` (unescaped when needed, into
    /// a buffer reused from token to token).
    private mutating func emitToken<E: StreamEmitter>(_ t: TGITokenLine, _ body: UnsafeRawBufferPointer, _ e: inout E) {
        tokensSeen = true
        let raw = t.text.map { UnsafeRawBufferPointer(rebasing: body[$0]) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
        guard t.escaped else {
            e.text(raw, id: t.id, special: t.special)
            return
        }
        var unescaped: [UInt8] = []
        swap(&unescaped, &scratch)
        unescaped.removeAll(keepingCapacity: true)
        var u = JSONUnescaper()
        u.run(raw, into: &unescaped)
        u.flush(into: &unescaped)
        unescaped.withUnsafeBytes { e.text($0, id: t.id, special: t.special) }
        swap(&unescaped, &scratch)
    }

    private func parseToken(_ s: inout JSONScanner, _ o: inout ParsedObject) {
        if s.consumeNull() { return }
        var first = true
        guard s.beginObject() else { return }
        o.hasToken = true
        while let k = s.nextKey(&first) {
            if s.key(k, is: "text") {
                if let (range, escaped) = s.readRawString() {
                    o.tokenText = range
                    o.tokenEscaped = escaped
                }
            } else if s.key(k, is: "id") {
                o.tokenId = s.readInt()
            } else if s.key(k, is: "special") || s.key(k, is: "special_token") {
                o.tokenSpecial = s.readBool() ?? false
            } else {
                s.skipValue()
            }
        }
    }

    private func parseDetails(_ s: inout JSONScanner) -> StreamDetails? {
        if s.consumeNull() { return nil }
        var d = StreamDetails()
        var first = true
        guard s.beginObject() else { return nil }
        while let k = s.nextKey(&first) {
            if s.key(k, is: "finish_reason") {
                d.finishReason = s.readStringOrNull()
            } else if s.key(k, is: "generated_tokens") {
                d.generatedTokens = s.readInt()
            } else {
                s.skipValue()
            }
        }
        return d
    }
}
