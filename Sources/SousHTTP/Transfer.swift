import Foundation
import Synchronization

/// Bytes a transfer may hold for a consumer that is behind; beyond this libcurl is paused.
let bodyBufferLimit = 1 << 20

/// Watches the body buffers of a client's transfers. Tests inject one (`HTTPClient(configuration:probe:)`)
/// to see backpressure at work; clients built with the public initialiser have none. Called with the
/// transfer's lock held: an implementation must return quickly and never call back into the transfer.
protocol TransferProbe: Sendable {
    /// `bytes` body bytes are now held for the consumer (a chunk handed straight to a waiting consumer counts
    /// while it is handed over).
    func held(_ bytes: Int)
    /// libcurl is paused: the consumer is behind by `bodyBufferLimit` bytes.
    func paused()
    /// libcurl is about to be resumed.
    func resumed()
}

/// One request in flight: the head and body chunks produced on the curl thread and consumed by a task.
final class Transfer: Sendable {
    let url: URL
    let resources: CurlResources
    let multi: CurlMulti
    private let probe: (any TransferProbe)?
    private let state = Mutex(State())

    struct State {
        var status = 0
        var version = "1.1"
        var headers = HTTPHeaders()
        var head: HTTPResponseHead?
        var headWaiter: CheckedContinuation<HTTPResponseHead, any Error>?
        var chunks: [Data] = []
        var buffered = 0
        var bodyWaiter: CheckedContinuation<Data?, any Error>?
        var paused = false
        var cancelRequested = false
        var finished = false
        var failure: HTTPError?
        /// Where body bytes go straight from libcurl's buffer once the consumer calls `deliver(to:)`.
        var sink: (@Sendable (UnsafeRawBufferPointer) throws -> Void)?
        /// The consumer is still handing the bytes buffered before `deliver(to:)` to the sink: new bytes wait.
        var sinkBusy = false
        /// What the sink threw (the transfer was aborted for it).
        var sinkError: (any Error)?
        var endWaiter: CheckedContinuation<Void, any Error>?
    }

    init(url: URL, resources: CurlResources, multi: CurlMulti, probe: (any TransferProbe)?) {
        self.url = url
        self.resources = resources
        self.multi = multi
        self.probe = probe
    }

    var isCancelRequested: Bool { state.withLock { $0.cancelRequested } }

    private var cancelledError: HTTPError {
        HTTPError(kind: .cancelled, message: "cancelled", url: HTTPError.redacted(url))
    }

    // MARK: Curl-thread side

    /// A header line from libcurl (status lines reset the block; a blank line ends it).
    func headerLine(_ raw: UnsafeBufferPointer<UInt8>) {
        let line = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        var waiter: CheckedContinuation<HTTPResponseHead, any Error>?
        var published: HTTPResponseHead?
        state.withLock { s in
            guard s.head == nil else { return }  // trailers after the body are ignored
            if line.hasPrefix("HTTP/") {
                let parts = line.split(separator: " ", maxSplits: 2)
                s.version = String(parts[0].dropFirst(5))
                s.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
                s.headers = HTTPHeaders()
            } else if line.isEmpty {
                if s.status >= 200 || (s.status > 0 && s.status < 100) {
                    let head = HTTPResponseHead(status: s.status, headers: s.headers, url: url, httpVersion: s.version)
                    s.head = head
                    published = head
                    waiter = s.headWaiter
                    s.headWaiter = nil
                }
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].trimmingCharacters(in: .whitespaces)
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                s.headers.add(name, value)
            }
        }
        if let waiter, let published { waiter.resume(returning: published) }
    }

    enum WriteDecision { case accepted, pause, abort }

    /// Body bytes from libcurl. Returns `.pause` without taking the bytes when the consumer is behind. With a
    /// sink (`deliver(to:)`) the bytes go to it here, from libcurl's buffer, without a copy.
    func body(_ raw: UnsafeRawBufferPointer) -> WriteDecision {
        var waiter: CheckedContinuation<Data?, any Error>?
        var chunk: Data?
        var sink: (@Sendable (UnsafeRawBufferPointer) throws -> Void)?
        let decision: WriteDecision = state.withLock { s in
            if s.cancelRequested { return .abort }
            if let target = s.sink {
                if s.sinkBusy {
                    s.paused = true
                    probe?.paused()
                    return .pause
                }
                sink = target
                return .accepted
            }
            if let w = s.bodyWaiter {
                s.bodyWaiter = nil
                waiter = w
                chunk = Data(raw)
                probe?.held(raw.count)
                return .accepted
            }
            if s.buffered >= bodyBufferLimit {
                s.paused = true
                probe?.paused()
                return .pause
            }
            s.chunks.append(Data(raw))
            s.buffered += raw.count
            probe?.held(s.buffered)
            return .accepted
        }
        if let waiter { waiter.resume(returning: chunk) }
        if let sink {
            do {
                try sink(raw)
            } catch {
                state.withLock { $0.sinkError = error }
                return .abort
            }
        }
        return decision
    }

    /// The transfer ended (curl thread, resources already released or about to be).
    func finish(_ failure: HTTPError?) {
        var headWaiter: CheckedContinuation<HTTPResponseHead, any Error>?
        var bodyWaiter: CheckedContinuation<Data?, any Error>?
        var endWaiter: CheckedContinuation<Void, any Error>?
        var endError: (any Error)?
        var head: HTTPResponseHead?
        state.withLock { s in
            guard !s.finished else { return }
            s.finished = true
            s.failure = failure
            endWaiter = s.endWaiter
            s.endWaiter = nil
            endError = s.sinkError ?? failure
            if failure == nil && s.head == nil {
                s.head = HTTPResponseHead(status: s.status, headers: s.headers, url: url, httpVersion: s.version)
            }
            head = s.head
            headWaiter = s.headWaiter
            s.headWaiter = nil
            bodyWaiter = s.bodyWaiter
            s.bodyWaiter = nil
        }
        if let headWaiter {
            if let failure { headWaiter.resume(throwing: failure) } else if let head { headWaiter.resume(returning: head) }
        }
        if let bodyWaiter {
            if let failure { bodyWaiter.resume(throwing: failure) } else { bodyWaiter.resume(returning: nil) }
        }
        if let endWaiter {
            if let endError { endWaiter.resume(throwing: endError) } else { endWaiter.resume() }
        }
    }

    // MARK: Consumer side

    /// Waits for the response head (or the failure).
    func waitForHead() async throws -> HTTPResponseHead {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<HTTPResponseHead, any Error>) in
                enum Now { case head(HTTPResponseHead), fail(HTTPError), wait }
                let now: Now = state.withLock { s in
                    if let h = s.head { return .head(h) }
                    if s.finished { return .fail(s.failure ?? cancelledError) }
                    if s.cancelRequested { return .fail(cancelledError) }
                    s.headWaiter = cont
                    return .wait
                }
                switch now {
                case .head(let h): cont.resume(returning: h)
                case .fail(let e): cont.resume(throwing: e)
                case .wait: break
                }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The next body chunk, nil at the end.
    func nextChunk() async throws -> Data? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Data?, any Error>) in
                enum Now { case chunk(Data), end, fail(HTTPError), wait }
                var unpause = false
                let now: Now = state.withLock { s in
                    if !s.chunks.isEmpty {
                        let c = s.chunks.removeFirst()
                        s.buffered -= c.count
                        if s.paused && s.buffered <= bodyBufferLimit / 2 {
                            s.paused = false
                            probe?.resumed()
                            unpause = true
                        }
                        return .chunk(c)
                    }
                    if s.finished {
                        if let f = s.failure { return .fail(f) }
                        return .end
                    }
                    if s.cancelRequested { return .fail(cancelledError) }
                    s.bodyWaiter = cont
                    if s.paused {
                        s.paused = false
                        probe?.resumed()
                        unpause = true
                    }
                    return .wait
                }
                if unpause { multi.submit(.unpause(self)) }
                switch now {
                case .chunk(let c): cont.resume(returning: c)
                case .end: cont.resume(returning: nil)
                case .fail(let e): cont.resume(throwing: e)
                case .wait: break
                }
            }
        } onCancel: {
            cancel()
        }
    }

    /// Hands the rest of the body to `sink`: first what is already buffered (on this task), then every chunk as
    /// libcurl delivers it, on the curl thread, straight from libcurl's buffer. Returns at the end of the body.
    /// - Throws: what `sink` threw (the transfer is aborted), the transfer's `HTTPError`, or `.cancelled`.
    func deliver(to sink: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) async throws {
        let backlog = state.withLock { s -> [Data] in
            let taken = s.chunks
            s.chunks = []
            s.buffered = 0
            s.sink = sink
            s.sinkBusy = true
            return taken
        }
        do {
            for chunk in backlog { try chunk.withUnsafeBytes { try sink($0) } }
        } catch {
            cancel()
            throw error
        }
        let unpause = state.withLock { s -> Bool in
            s.sinkBusy = false
            guard s.paused else { return false }
            s.paused = false
            probe?.resumed()
            return true
        }
        if unpause { multi.submit(.unpause(self)) }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
                enum Now { case done, fail(any Error), wait }
                let now: Now = state.withLock { s in
                    if s.finished {
                        if let e = s.sinkError ?? s.failure { return .fail(e) }
                        return .done
                    }
                    if s.cancelRequested { return .fail(cancelledError) }
                    s.endWaiter = cont
                    return .wait
                }
                switch now {
                case .done: cont.resume()
                case .fail(let e): cont.resume(throwing: e)
                case .wait: break
                }
            }
        } onCancel: {
            cancel()
        }
    }

    /// Aborts the transfer (idempotent; prompt: the curl thread is woken).
    func cancel() {
        let submit = state.withLock { s -> Bool in
            if s.finished || s.cancelRequested { return false }
            s.cancelRequested = true
            return true
        }
        if submit { multi.submit(.cancel(self)) }
    }
}
