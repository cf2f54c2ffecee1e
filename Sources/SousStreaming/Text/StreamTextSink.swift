internal import Foundation

/// Writes the printable text of a container stream to a file descriptor: a parser plus a buffered writer,
/// flushed once per `write(_:)` call (one payload part) or in 64 KiB blocks. Used by `sous bench stream` and
/// its tests; `sous invoke`, `sous chat` and the invoke step read answers through `StreamTextReader`.
public struct StreamTextSink {
    private var parser: AnyStreamParser
    private var out = TextBuffer()
    private let fd: Int32?
    private let flushEachPart: Bool
    /// Tokens written (special tokens excluded).
    public var tokens: Int { out.tokens }
    /// Text bytes written.
    public var textBytes: Int { out.textBytes }
    /// Error events seen (their messages).
    public var errors: [String] { out.errors }
    /// The final event's details, when the stream ended with one.
    public var finalDetails: StreamDetails? { out.finalDetails }
    /// True once the stream's final event was seen.
    public var sawFinal: Bool { out.sawFinal }

    /// - Parameters:
    ///   - fileDescriptor: where text goes (e.g. 1 for stdout), or nil to only count it.
    ///   - flushEachPart: write after every part (interactive output); false batches 64 KiB writes.
    public init(format: StreamFormat, contentType: String? = nil, fileDescriptor: Int32?, flushEachPart: Bool = true) {
        parser = AnyStreamParser(format: format, contentType: contentType)
        fd = fileDescriptor
        self.flushEachPart = flushEachPart
        out.bytes.reserveCapacity(64 * 1024)
    }

    /// Parses one payload part and writes the text it completes; returns the number of tokens written.
    @discardableResult
    public mutating func write(_ part: UnsafeRawBufferPointer) -> Int {
        let before = out.tokens
        // Two different stored properties of `self`: accessed together without copying the buffer.
        parser.feed(part, into: &out)
        if flushEachPart || out.bytes.count >= 64 * 1024 { flush() }
        return out.tokens - before
    }

    /// Ends the stream: writes what was buffered; returns the number of tokens written.
    @discardableResult
    public mutating func finish() -> Int {
        let before = out.tokens
        parser.finish(into: &out)
        flush()
        return out.tokens - before
    }

    private mutating func flush() {
        guard !out.bytes.isEmpty else { return }
        out.textBytes += out.bytes.count
        if let fd {
            out.bytes.withUnsafeBytes { raw in
                var off = 0
                while off < raw.count {
                    let n = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                    if n <= 0 { break }
                    off += n
                }
            }
        }
        out.bytes.removeAll(keepingCapacity: true)
    }
}
