public import Foundation

/// Keeps a transfer alive while a stream or one of its iterators exists; aborts it when all are gone.
final class TransferOwner: Sendable {
    let transfer: Transfer
    init(_ transfer: Transfer) { self.transfer = transfer }
    deinit { transfer.cancel() }
}

/// Streamed response body: byte chunks as libcurl delivers them, with backpressure (the transfer pauses
/// while more than 1 MiB waits for the consumer). Cancelling the consuming task, calling `cancel()`, or
/// dropping the stream and its iterators aborts the transfer.
public struct HTTPBodyStream: AsyncSequence, Sendable {
    public typealias Element = Data
    public typealias Failure = any Error
    let owner: TransferOwner

    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = Data
        public typealias Failure = any Error
        let owner: TransferOwner
        public mutating func next() async throws -> Data? { try await owner.transfer.nextChunk() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(owner: owner) }

    /// Collects the body; past `limit` bytes the rest is discarded and the transfer aborted.
    public func collect(upTo limit: Int = .max) async throws -> Data {
        var data = Data()
        for try await chunk in self {
            let room = limit - data.count
            if chunk.count >= room {
                data.append(chunk.prefix(room))
                cancel()
                break
            }
            data.append(chunk)
        }
        return data
    }

    /// Hands the rest of the body to `sink` without copying it: each chunk as libcurl delivers it, from
    /// libcurl's own buffer, on the client's transfer thread (bytes that arrived before this call first, on
    /// the calling task). Returns at the end of the body. `sink` must be quick (it holds up every transfer of
    /// the client while it runs) and must not keep the buffer; throwing aborts the transfer. Use it instead
    /// of iterating, for bodies that go to a file.
    /// - Throws: what `sink` threw, or the transfer's `HTTPError`.
    public func deliver(to sink: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) async throws {
        try await owner.transfer.deliver(to: sink)
    }

    /// Aborts the transfer (idempotent).
    public func cancel() { owner.transfer.cancel() }
}
