/// Any of the parsers, chosen by format (or automatically from the content type and the first bytes).
public struct AnyStreamParser: StreamParser {
    private enum Kind: Sendable { case undecided, tgi, lmi, raw }

    private var kind: Kind
    private var head: [UInt8] = []
    // One stored parser per kind (unused ones stay empty): mutated in place, never copied.
    private var tgi = TGIStreamParser()
    private var lmi = LMIStreamParser()
    private var raw = RawStreamParser()
    /// The format in use (`.auto` until the first bytes decided it).
    public private(set) var resolvedFormat: StreamFormat

    /// - Parameters:
    ///   - format: the dialect, or `.auto`.
    ///   - contentType: the container's content type (`X-Amzn-SageMaker-Content-Type`), used by `.auto`.
    public init(format: StreamFormat, contentType: String? = nil) {
        var f = format
        if f == .auto, let ct = contentType?.lowercased() {
            if ct.contains("event-stream") {
                f = .tgi
            } else if ct.contains("jsonlines") || ct.contains("ndjson") || ct.contains("jsonl") {
                f = .jsonlines
            } else if ct.hasPrefix("text/plain") {
                f = .raw
            }
        }
        resolvedFormat = f
        switch f {
        case .tgi, .jsonlines: kind = .tgi
        case .lmi: kind = .lmi
        case .raw: kind = .raw
        case .auto: kind = .undecided
        }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (StreamEvent) -> Void) {
        ClosureEmitter.with(emit) { feed(bytes, into: &$0) }
    }

    public mutating func finish(_ emit: (StreamEvent) -> Void) {
        ClosureEmitter.with(emit) { finish(into: &$0) }
    }

    mutating func feed<E: StreamEmitter>(_ bytes: UnsafeRawBufferPointer, into e: inout E) {
        switch kind {
        case .tgi: tgi.feed(bytes, into: &e)
        case .lmi: lmi.feed(bytes, into: &e)
        case .raw: raw.feed(bytes, into: &e)
        case .undecided:
            head.append(contentsOf: bytes)
            guard let first = head.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else { return }
            decide(first)
            let h = head
            head = []
            h.withUnsafeBytes { feed($0, into: &e) }
        }
    }

    mutating func finish<E: StreamEmitter>(into e: inout E) {
        switch kind {
        case .tgi: tgi.finish(into: &e)
        case .lmi: lmi.finish(into: &e)
        case .raw: raw.finish(into: &e)
        case .undecided:
            resolvedFormat = .raw
            kind = .raw
            let h = head
            head = []
            h.withUnsafeBytes { raw.feed($0, into: &e) }
            raw.finish(into: &e)
        }
    }

    /// `{` → LMI document (which hands anything else to the TGI parser); `[`, `data:`, `event:`, `:` → TGI; else raw.
    private mutating func decide(_ first: UInt8) {
        switch first {
        case 0x7B:
            resolvedFormat = .lmi
            kind = .lmi
        case 0x5B, 0x64, 0x3A, 0x65:
            resolvedFormat = .tgi
            kind = .tgi
        default:
            resolvedFormat = .raw
            kind = .raw
        }
    }
}
