import Foundation
import SousStreaming

/// One answer as it streams: the container-format parser and the accumulated text, timing and final
/// details. `sous invoke`, `sous chat` and `sagemaker.invoke-stream` consume payload parts through it (and
/// `sous bench stream` measures it).
public struct AnswerStream {
    var acc: Accumulator
    private var parser: AnyStreamParser?
    private var reader: StreamTextReader?
    private let format: StreamFormat
    private let perToken: Bool
    /// The response's content type (for `.auto`); set before the first part.
    public var contentType: String?
    private var pending = ""

    public init(request: InvocationRequest, perToken: Bool = false) {
        acc = Accumulator(request: request)
        format = request.format
        self.perToken = perToken
    }

    /// The text so far.
    public var text: String { acc.text }
    /// Printable tokens so far.
    public var tokens: Int { perToken ? acc.pieces : (reader?.tokens ?? 0) }
    /// The container's error event, if one came.
    public var containerError: String? { acc.containerError }

    /// Parses one payload part. With `perToken`, `onText` gets each token now (one `StreamEvent` per token);
    /// otherwise the text gathers as bytes until `flush` (call it once the parts that arrived together are fed).
    public mutating func feed(_ raw: UnsafeRawBufferPointer, _ onText: (String) -> Void) {
        if perToken {
            if parser == nil { parser = AnyStreamParser(format: format, contentType: contentType) }
            withParser { p, acc in
                p.feed(raw) { ev in if let t = acc.handle(ev) { onText(t) } }
            }
        } else {
            if reader == nil { reader = StreamTextReader(format: format, contentType: contentType) }
            reader!.feed(raw)
        }
    }

    /// Hands the text fed since the last flush to `onText` (nothing when there is none).
    public mutating func flush(_ onText: (String) -> Void) {
        guard !perToken, reader != nil else { return }
        let text = reader!.takeText()
        acc.absorb(reader!, arrived: text)
        if let text { onText(text) }
    }

    /// Ends the stream (a last line without its newline is still parsed) and flushes.
    public mutating func finish(_ onText: (String) -> Void) {
        if perToken {
            if parser == nil { parser = AnyStreamParser(format: format, contentType: contentType) }
            withParser { p, acc in
                p.finish { ev in if let t = acc.handle(ev) { onText(t) } }
            }
        } else {
            if reader == nil { reader = StreamTextReader(format: format, contentType: contentType) }
            reader!.finish()
            flush(onText)
        }
    }

    /// The result so far (timing, tokens, finish reason).
    public func result() -> InvocationResult { acc.result() }

    private mutating func withParser(_ body: (inout AnyStreamParser, inout Accumulator) -> Void) {
        body(&parser!, &acc)
    }
}

/// Collects the events of one answer and times them.
struct Accumulator {
    let request: InvocationRequest
    let start = ContinuousClock.now
    var firstAt: ContinuousClock.Instant?
    var lastAt: ContinuousClock.Instant?
    /// The answer as the pieces that arrived (joined on read: no regrowing copy of a long answer per piece).
    private var pieces_: [String] = []
    var text: String {
        get { pieces_.count == 1 ? pieces_[0] : pieces_.joined() }
        set { pieces_ = newValue.isEmpty ? [] : [newValue] }
    }
    var hasText: Bool { !pieces_.isEmpty }
    mutating func appendText(_ t: String) { if !t.isEmpty { pieces_.append(t) } }
    var pieces = 0
    /// When each of the `pieces` arrived, in milliseconds since `start` (one clock read per arrival).
    var arrivals: [Double] = []
    var lastWasSpecial = false
    var details: StreamDetails?
    var finalText: String?
    var containerError: String?

    init(request: InvocationRequest) { self.request = request }

    /// Records `event`; returns the text to print, if any.
    mutating func handle(_ event: StreamEvent) -> String? {
        switch event {
        case .token(let t, _, let special):
            lastWasSpecial = special
            guard !special else { return nil }
            pieces += 1
            let now = ContinuousClock.now
            arrivals.append(milliseconds(now - start))
            guard !t.isEmpty else { return nil }
            if firstAt == nil { firstAt = now }
            lastAt = now
            appendText(t)
            return t
        case .final(let generated, let d):
            finalText = generated
            if let d { details = d }
            if d?.finishReason == "error", containerError == nil {
                containerError = "the generation ended with finish_reason \"error\""
            }
            return nil
        case .error(let message):
            if containerError == nil { containerError = message }
            return nil
        }
    }

    /// Takes over what a `StreamTextReader` saw; `arrived` is the text of one arrival (its tokens share
    /// its time).
    mutating func absorb(_ reader: StreamTextReader, arrived: String?) {
        let newPieces = reader.tokens - pieces
        pieces = reader.tokens
        lastWasSpecial = reader.lastWasSpecial
        if let f = reader.finalText { finalText = f }
        if let d = reader.finalDetails {
            details = d
            if d.finishReason == "error", containerError == nil, reader.firstError == nil {
                containerError = "the generation ended with finish_reason \"error\""
            }
        }
        if containerError == nil, let e = reader.firstError { containerError = e }
        let hasText = arrived.map { !$0.isEmpty } ?? false
        guard newPieces > 0 || hasText else { return }
        let now = ContinuousClock.now
        if newPieces > 0 { arrivals.append(contentsOf: repeatElement(milliseconds(now - start), count: newPieces)) }
        if let arrived, hasText {
            if firstAt == nil { firstAt = now }
            lastAt = now
            appendText(arrived)
        }
    }

    func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func milliseconds(_ d: Duration) -> Double { seconds(d) * 1000 }

    func result() -> InvocationResult {
        let end = ContinuousClock.now
        var r = InvocationResult()
        r.text = text
        r.tokens = details?.generatedTokens ?? pieces
        if r.tokens == 0 && !r.text.isEmpty { r.tokens = 1 }
        r.timeToFirstToken = firstAt.map { seconds($0 - start) }
        if let first = firstAt, let last = lastAt, pieces > 1 {
            let span = seconds(last - first)
            r.tokensPerSecond = span > 0 ? Double(pieces - 1) / span : 0
        }
        if let reason = details?.finishReason, !reason.isEmpty {
            r.finishReason = reason
        } else if let max = request.maxNewTokens, r.tokens >= max {
            r.finishReason = "length"
        } else if lastWasSpecial {
            r.finishReason = "eos_token"
        } else {
            r.finishReason = "stop"
        }
        r.duration = seconds(end - start)
        r.tokenArrivals = arrivals
        return r
    }

    func failure(_ kind: InvocationError.Kind, _ message: String) -> InvocationError {
        var partial = result()
        partial.finishReason = kind == .cancelled ? "cancelled" : "error"
        return InvocationError(kind: kind, endpoint: request.endpoint, message: message, partial: partial)
    }
}
