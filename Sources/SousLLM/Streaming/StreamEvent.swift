public import Foundation

/// What a streaming parser found in a container's output.
public enum StreamEvent: Sendable, Hashable {
    /// A piece of generated text. `special` tokens (e.g. `</s>`) are not meant to be printed.
    case token(text: String, id: Int?, special: Bool)
    /// The end of the generation: the container's full text when it sent one, and its details.
    case final(generatedText: String?, details: StreamDetails?)
    /// An error the container reported inside the stream (or a stream cut in the middle of an event).
    case error(message: String)
}

/// The `details` of a finished generation.
public struct StreamDetails: Sendable, Hashable {
    /// `length`, `eos_token`, `stop_sequence` (or `error` for LMI).
    public var finishReason: String?
    public var generatedTokens: Int?

    public init(finishReason: String? = nil, generatedTokens: Int? = nil) {
        self.finishReason = finishReason
        self.generatedTokens = generatedTokens
    }
}

/// The output dialect of a serving container.
public enum StreamFormat: String, Sendable, CaseIterable {
    /// Hugging Face TGI: server-sent events `data:{json}` (also a non-streaming JSON array).
    case tgi
    /// DJL LMI default `json` formatter: one JSON document `{"generated_text": "…"}` written incrementally.
    case lmi
    /// JSON Lines: `{"token": {…}}` lines (LMI ≥ 0.26) or `{"outputs": […]}` lines (LMI 0.25).
    case jsonlines
    /// Plain text, printed as is.
    case raw
    /// Chosen from the content type and the first bytes.
    case auto
}

/// An incremental parser: a pure state machine fed with arbitrary byte slices.
///
/// Bytes may be split anywhere (inside a line, an escape or a UTF-8 character); the parser buffers what it
/// needs and never emits half a character. `finish()` handles a last line without a final newline.
public protocol StreamParser: Sendable {
    /// Consumes `bytes`, calling `emit` for every event they complete.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (StreamEvent) -> Void)
    /// Declares the end of the stream, calling `emit` for what was still buffered.
    mutating func finish(_ emit: (StreamEvent) -> Void)
}

extension StreamParser {
    /// Consumes `data` and returns the events it completes.
    public mutating func feed(_ data: Data) -> [StreamEvent] {
        var out: [StreamEvent] = []
        data.withUnsafeBytes { feed($0) { out.append($0) } }
        return out
    }

    /// Consumes `bytes` and returns the events they complete.
    public mutating func feed(_ bytes: [UInt8]) -> [StreamEvent] {
        var out: [StreamEvent] = []
        bytes.withUnsafeBytes { feed($0) { out.append($0) } }
        return out
    }

    /// Ends the stream and returns the remaining events.
    public mutating func finish() -> [StreamEvent] {
        var out: [StreamEvent] = []
        finish { out.append($0) }
        return out
    }
}

/// Creates the parser for `format`; `.auto` decides from `contentType` (the `X-Amzn-SageMaker-Content-Type`
/// response header) and the first bytes.
public func makeStreamParser(format: StreamFormat, contentType: String? = nil) -> AnyStreamParser {
    AnyStreamParser(format: format, contentType: contentType)
}

/// Concatenates the printable text of `events` (tokens that are not special); for tests and summaries.
public func printableText(_ events: [StreamEvent]) -> String {
    var s = ""
    for e in events {
        if case .token(let text, _, let special) = e, !special { s += text }
    }
    return s
}

/// Receives a parser's output: token text as UTF-8 bytes (valid only during the call), other events as is.
/// The CLI's writer takes the bytes straight to its output buffer; `ClosureEmitter` builds `StreamEvent`s.
protocol StreamEmitter {
    mutating func text(_ utf8: UnsafeRawBufferPointer, id: Int?, special: Bool)
    mutating func event(_ e: StreamEvent)
}

extension StreamEmitter {
    mutating func text(_ s: String, id: Int?, special: Bool) {
        var t = s
        t.withUTF8 { text(UnsafeRawBufferPointer($0), id: id, special: special) }
    }
}

/// Turns emitter calls into `StreamEvent`s for a closure.
struct ClosureEmitter: StreamEmitter {
    let emit: (StreamEvent) -> Void

    func text(_ utf8: UnsafeRawBufferPointer, id: Int?, special: Bool) {
        emit(.token(text: String(decoding: utf8, as: UTF8.self), id: id, special: special))
    }

    func event(_ e: StreamEvent) { emit(e) }
}
