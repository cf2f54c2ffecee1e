public import Foundation

/// Decodes an asynchronous sequence of byte chunks (e.g. an HTTP body stream) into event-stream messages.
///
/// Ends when the base sequence ends on a frame boundary; throws `EventStreamError.truncated` when it ends
/// inside a frame, and any error of the base sequence as is.
public struct EventStreamMessages<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == Data {
    public typealias Element = EventStreamMessage
    public typealias Failure = any Error

    let base: Base
    let maxMessageLength: Int

    public init(_ base: Base, maxMessageLength: Int = EventStreamLimits.maxMessageLength) {
        self.base = base
        self.maxMessageLength = maxMessageLength
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: base.makeAsyncIterator(), decoder: EventStreamDecoder(maxMessageLength: maxMessageLength))
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        var decoder: EventStreamDecoder
        var done = false

        public mutating func next() async throws -> EventStreamMessage? {
            while !done {
                if let m = try decoder.nextMessage() { return m }
                guard let chunk = try await base.next() else {
                    done = true
                    try decoder.finish()
                    return nil
                }
                decoder.feed(chunk)
            }
            return nil
        }
    }
}
