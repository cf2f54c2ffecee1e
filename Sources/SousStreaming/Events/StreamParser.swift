public import Foundation

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
