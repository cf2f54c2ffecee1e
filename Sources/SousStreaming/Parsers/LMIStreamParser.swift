internal import Foundation

/// Parser for DJL LMI's default `json` output: ONE JSON document `{"generated_text": "` + escaped text +
/// `"}` (or `", "details": {…}}`) written incrementally across parts.
///
/// Unescapes `\n \" \\ \t \uXXXX` and surrogate pairs even when an escape is split between parts, never
/// splits a UTF-8 character, and reads the `details` tail. Any document that does not start with
/// `{"generated_text": "` (an error object, a JSON array, JSON Lines) is handed to `TGIStreamParser`.
public struct LMIStreamParser: StreamParser {
    private enum Phase: Sendable {
        case prefix
        case text
        case tail
        case delegated
    }

    private var phase = Phase.prefix
    private var head: [UInt8] = []
    private var tail: [UInt8] = []
    private var unescaper = JSONUnescaper()
    /// Decoded UTF-8 not yet emitted (an incomplete character at the end).
    private var out: [UInt8] = []
    private var fallback = TGIStreamParser()
    private var ended = false

    public init() {}

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (StreamEvent) -> Void) {
        ClosureEmitter.with(emit) { feed(bytes, into: &$0) }
    }

    public mutating func finish(_ emit: (StreamEvent) -> Void) {
        ClosureEmitter.with(emit) { finish(into: &$0) }
    }

    mutating func feed<E: StreamEmitter>(_ bytes: UnsafeRawBufferPointer, into e: inout E) {
        guard !bytes.isEmpty else { return }
        switch phase {
        case .delegated:
            fallback.feed(bytes, into: &e)
        case .tail:
            appendTail(bytes)
        case .prefix:
            head.append(contentsOf: bytes)
            switch Self.matchPrefix(head) {
            case .needMore:
                return
            case .mismatch:
                phase = .delegated
                let h = head
                head = []
                h.withUnsafeBytes { fallback.feed($0, into: &e) }
            case .matched(let consumed):
                phase = .text
                let h = head
                head = []
                h.withUnsafeBytes { consumeText(UnsafeRawBufferPointer(rebasing: $0[consumed...]), &e) }
            }
        case .text:
            consumeText(bytes, &e)
        }
    }

    mutating func finish<E: StreamEmitter>(into e: inout E) {
        guard !ended else { return }
        ended = true
        switch phase {
        case .delegated:
            fallback.finish(into: &e)
        case .prefix:
            // Too short to tell: let the line parser judge it (JSON value or error).
            let h = head
            head = []
            h.withUnsafeBytes { fallback.feed($0, into: &e) }
            fallback.finish(into: &e)
        case .text:
            unescaper.flush(into: &out)
            flushText(all: true, &e)
            e.event(.error(message: "the stream ended inside the generated text (the JSON document was not closed)"))
        case .tail:
            finishTail(&e)
        }
    }

    // MARK: text

    private mutating func consumeText<E: StreamEmitter>(_ bytes: UnsafeRawBufferPointer, _ e: inout E) {
        guard bytes.baseAddress != nil else { return }
        // The unescaper stops at the closing quote: the first `"` that is not part of an escape (it knows
        // an escape split from the previous part).
        if let closing = unescaper.run(bytes, into: &out) {
            unescaper.flush(into: &out)
            flushText(all: true, &e)
            phase = .tail
            appendTail(UnsafeRawBufferPointer(rebasing: bytes[(closing + 1)...]))
        } else {
            flushText(all: false, &e)
        }
    }

    private mutating func flushText<E: StreamEmitter>(all: Bool, _ e: inout E) {
        guard !out.isEmpty else { return }
        let keep = all ? 0 : out.withUnsafeBytes { incompleteUTF8Suffix($0) }
        let count = out.count - keep
        guard count > 0 else { return }
        out.withUnsafeBytes { e.text(UnsafeRawBufferPointer(rebasing: $0[0..<count]), id: nil, special: false) }
        if keep == 0 {
            out.removeAll(keepingCapacity: true)
        } else {
            out.removeFirst(count)
        }
    }

    // MARK: tail

    private mutating func appendTail(_ bytes: UnsafeRawBufferPointer) {
        if tail.count + bytes.count <= 1 << 20 { tail.append(contentsOf: bytes) }
    }

    /// Reads `"}` / `", "details": {…}}` (and an error object appended after it).
    private mutating func finishTail<E: StreamEmitter>(_ e: inout E) {
        // Rebuild an object from what follows the text: `{` + members after the first comma.
        var doc: [UInt8] = [0x7B]
        if let comma = tail.firstIndex(of: 0x2C), tail[..<comma].allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            doc.append(contentsOf: tail[(comma + 1)...])
        } else {
            doc.append(contentsOf: tail)
        }
        var events: [StreamEvent] = []
        var parser = TGIStreamParser()
        // A complete object may be followed by an appended error object; feed everything as one line.
        let flat = doc.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 }
        flat.withUnsafeBytes { parser.feed($0) { events.append($0) } }
        parser.finish { events.append($0) }
        var sawFinal = false
        for ev in events {
            switch ev {
            case .final(_, let details):
                sawFinal = true
                if details?.finishReason == "error" {
                    e.event(.error(message: "the model stopped with an error (finish_reason \"error\")"))
                } else {
                    e.event(.final(generatedText: nil, details: details))
                }
            case .error:
                let trimmed = String(decoding: tail, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed == "}" {
                    sawFinal = true
                    e.event(.final(generatedText: nil, details: nil))
                } else {
                    e.event(.error(message: "unexpected end of the LMI JSON document: \(trimmed.prefix(300))"))
                }
            case .token: break
            }
        }
        if !sawFinal && events.isEmpty { e.event(.final(generatedText: nil, details: nil)) }
    }

    // MARK: prefix

    enum PrefixMatch { case needMore, mismatch, matched(Int) }

    /// Matches `{` ws `"generated_text"` ws `:` ws `"` at the start of `h`.
    static func matchPrefix(_ h: [UInt8]) -> PrefixMatch {
        var i = 0
        func ws() { while i < h.count, h[i] == 0x20 || h[i] == 0x0A || h[i] == 0x0D || h[i] == 0x09 { i += 1 } }
        func lit(_ s: [UInt8]) -> PrefixMatch? {
            for c in s {
                guard i < h.count else { return .needMore }
                guard h[i] == c else { return .mismatch }
                i += 1
            }
            return nil
        }
        ws()
        if let r = lit([0x7B]) { return r }
        ws()
        if let r = lit(Array("\"generated_text\"".utf8)) { return r }
        ws()
        if let r = lit([0x3A]) { return r }
        ws()
        if let r = lit([0x22]) { return r }
        if h.count > 4096 { return .mismatch }
        return .matched(i)
    }
}
