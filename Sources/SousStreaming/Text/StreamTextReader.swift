/// Parses payload parts into the printable text of an answer as UTF-8 bytes, plus what the answer's summary
/// needs (printable token count, whether the last token was special, the final event, the first error) —
/// without a `StreamEvent` or a `String` per token. `sous invoke`, `sous chat` and the invoke step read
/// streams through it and take the text once per network arrival.
public struct StreamTextReader {
    private var parser: AnyStreamParser
    private var out = TextBuffer()

    public init(format: StreamFormat, contentType: String? = nil) {
        parser = AnyStreamParser(format: format, contentType: contentType)
    }

    /// Printable (non-special) tokens so far, including empty ones.
    public var tokens: Int { out.tokens }
    /// True when the last token seen was a special one (an end-of-sequence marker).
    public var lastWasSpecial: Bool { out.lastWasSpecial }
    /// The final event's full text and details, once it came.
    public var finalText: String? { out.finalText }
    public var finalDetails: StreamDetails? { out.finalDetails }
    /// The first error event's message.
    public var firstError: String? { out.errors.first }

    /// Parses one payload part (its text waits in the reader until `takeText`).
    public mutating func feed(_ part: UnsafeRawBufferPointer) { parser.feed(part, into: &out) }

    /// Ends the stream (a last line without its newline is still parsed).
    public mutating func finish() { parser.finish(into: &out) }

    /// The text completed since the last call (nil when there is none).
    public mutating func takeText() -> String? {
        guard !out.bytes.isEmpty else { return nil }
        let s = String(decoding: out.bytes, as: UTF8.self)
        out.bytes.removeAll(keepingCapacity: true)
        return s
    }
}
