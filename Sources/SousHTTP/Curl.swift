// The only file that calls libcurl. One multi handle per HTTPClient, driven by one dedicated thread
// (curl_multi_poll / curl_multi_wakeup); every easy handle is touched by that thread only once added.
internal import CSousCurl
import Foundation
import Synchronization

/// Runs `curl_global_init` exactly once per process (Swift globals are initialised lazily and atomically).
private let curlGlobalInit: Bool = sous_curl_global_init_default() == CURLE_OK

/// Bytes a transfer may hold for a consumer that is behind; beyond this libcurl is paused.
let bodyBufferLimit = 1 << 20
/// libcurl's receive buffer: the largest chunk one write callback delivers (fewer, larger chunks).
let receiveBufferSize = 128 << 10

// MARK: - Raw pointers handed between threads

/// A CURLM pointer. @unchecked Sendable: after init, only `curl_multi_wakeup` (thread-safe by contract)
/// is called off the engine thread.
private struct MultiPointer: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
}

/// The libcurl-owned resources of one transfer. @unchecked Sendable: built by the requesting thread, then
/// touched only by the engine thread (callbacks, pause, cleanup) — never by two threads at once.
final class CurlResources: @unchecked Sendable {
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    let errorBuffer: UnsafeMutablePointer<CChar>
    // Request body source.
    var bodyData = Data()
    var fd: Int32 = -1
    var fileOffset: UInt64 = 0
    var bodyLength: UInt64 = 0
    var position: UInt64 = 0

    init() {
        let size = Int(sous_curl_error_size())
        errorBuffer = .allocate(capacity: size)
        errorBuffer.initialize(repeating: 0, count: size)
    }

    var errorText: String { String(cString: errorBuffer) }

    /// Frees the easy handle, header list and file descriptor (engine thread, after removal from the multi).
    func release() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
        if fd >= 0 { close(fd) }
        fd = -1
        bodyData = Data()
    }

    deinit {
        release()
        errorBuffer.deallocate()
    }
}

// MARK: - Transfer

/// One request in flight: the head and body chunks produced on the engine thread and consumed by a task.
final class Transfer: Sendable {
    let url: URL
    let resources: CurlResources
    private let engine: CurlEngine
    private let state = Mutex(State())

    struct State {
        var status = 0
        var version = "1.1"
        var headers = HTTPHeaders()
        var head: HTTPResponseHead?
        var headWaiter: CheckedContinuation<HTTPResponseHead, any Error>?
        var chunks: [Data] = []
        var buffered = 0
        var highWater = 0
        var bodyWaiter: CheckedContinuation<Data?, any Error>?
        var paused = false
        var pauseCount = 0
        var cancelRequested = false
        var finished = false
        var failure: HTTPError?
    }

    init(url: URL, resources: CurlResources, engine: CurlEngine) {
        self.url = url
        self.resources = resources
        self.engine = engine
    }

    /// Largest number of body bytes held at once (tests check that backpressure bounds memory).
    var highWaterMark: Int { state.withLock { $0.highWater } }
    /// True while libcurl is paused because the consumer is behind.
    var isPaused: Bool { state.withLock { $0.paused } }
    /// How many times the transfer was paused.
    var pauseCount: Int { state.withLock { $0.pauseCount } }
    var isCancelRequested: Bool { state.withLock { $0.cancelRequested } }

    private var cancelledError: HTTPError {
        HTTPError(kind: .cancelled, message: "cancelled", url: HTTPError.redacted(url))
    }

    // MARK: Engine-thread side

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

    /// Body bytes from libcurl. Returns `.pause` without taking the bytes when the consumer is behind.
    func body(_ raw: UnsafeRawBufferPointer) -> WriteDecision {
        var waiter: CheckedContinuation<Data?, any Error>?
        var chunk: Data?
        let decision: WriteDecision = state.withLock { s in
            if s.cancelRequested { return .abort }
            if let w = s.bodyWaiter {
                s.bodyWaiter = nil
                waiter = w
                chunk = Data(raw)
                s.highWater = max(s.highWater, raw.count)
                return .accepted
            }
            if s.buffered >= bodyBufferLimit {
                s.paused = true
                s.pauseCount += 1
                return .pause
            }
            s.chunks.append(Data(raw))
            s.buffered += raw.count
            s.highWater = max(s.highWater, s.buffered)
            return .accepted
        }
        if let waiter { waiter.resume(returning: chunk) }
        return decision
    }

    /// The transfer ended (engine thread, resources already released or about to be).
    func finish(_ failure: HTTPError?) {
        var headWaiter: CheckedContinuation<HTTPResponseHead, any Error>?
        var bodyWaiter: CheckedContinuation<Data?, any Error>?
        var head: HTTPResponseHead?
        state.withLock { s in
            guard !s.finished else { return }
            s.finished = true
            s.failure = failure
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
                        unpause = true
                    }
                    return .wait
                }
                if unpause { engine.submit(.unpause(self)) }
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

    /// Aborts the transfer (idempotent; prompt: the engine thread is woken).
    func cancel() {
        let submit = state.withLock { s -> Bool in
            if s.finished || s.cancelRequested { return false }
            s.cancelRequested = true
            return true
        }
        if submit { engine.submit(.cancel(self)) }
    }
}

// MARK: - Engine

/// One libcurl multi handle and the thread that drives it.
final class CurlEngine: Sendable {
    enum Command: Sendable {
        case add(Transfer)
        case cancel(Transfer)
        case unpause(Transfer)
        case shutdown
    }

    private let multi: MultiPointer?
    /// Pending commands; `closed` once the engine thread has shut down (the multi handle is then freed).
    private let commands = Mutex<(list: [Command], closed: Bool)>(([], false))
    let configuration: HTTPClient.Configuration

    init(configuration: HTTPClient.Configuration) {
        _ = curlGlobalInit
        self.configuration = configuration
        if let m = curl_multi_init() {
            multi = MultiPointer(raw: m)
            _ = sous_curl_multi_setopt_long(m, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, configuration.maxConnectionsPerHost))
            _ = sous_curl_multi_setopt_long(m, CURLMOPT_MAXCONNECTS, max(16, configuration.maxConnectionsPerHost * 4))
            let thread = Thread { [self] in self.run() }
            thread.name = "sous-curl"
            thread.start()
        } else {
            multi = nil
        }
    }

    /// Queues a command for the engine thread and wakes it. Returns false once the engine has shut down.
    /// The wakeup happens under the lock so it can never race with `curl_multi_cleanup`.
    @discardableResult
    func submit(_ command: Command) -> Bool {
        commands.withLock { c in
            guard !c.closed, let multi else { return false }
            c.list.append(command)
            _ = curl_multi_wakeup(multi.raw)
            return true
        }
    }

    /// Builds the easy handle for `request` and starts it. Throws for a local problem (unreadable body file).
    func start(_ request: HTTPRequest) throws -> Transfer {
        let resources = CurlResources()
        let transfer = Transfer(url: request.url, resources: resources, engine: self)
        guard multi != nil, let easy = curl_easy_init() else {
            throw HTTPError(kind: .other, message: "libcurl could not be initialised", url: HTTPError.redacted(request.url))
        }
        resources.easy = easy
        do {
            try configure(easy, resources, transfer, request)
        } catch {
            resources.release()
            throw error
        }
        guard submit(.add(transfer)) else {
            resources.release()
            throw HTTPError(kind: .cancelled, message: "the HTTP client was shut down", url: HTTPError.redacted(request.url))
        }
        return transfer
    }

    private func configure(
        _ h: UnsafeMutableRawPointer, _ r: CurlResources, _ transfer: Transfer, _ request: HTTPRequest
    ) throws {
        let me = Unmanaged.passUnretained(transfer).toOpaque()
        _ = sous_curl_easy_setopt_string(h, CURLOPT_URL, request.url.absoluteString)
        _ = sous_curl_easy_setopt_ptr(h, CURLOPT_ERRORBUFFER, r.errorBuffer)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_BUFFERSIZE, receiveBufferSize)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_SSL_VERIFYPEER, configuration.verifyTLS ? 1 : 0)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_SSL_VERIFYHOST, configuration.verifyTLS ? 2 : 0)
        _ = sous_curl_easy_setopt_string(h, CURLOPT_USERAGENT, configuration.userAgent)
        let t = request.timeouts
        _ = sous_curl_easy_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, max(1, milliseconds(t.connect)))
        _ = sous_curl_easy_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, max(0, t.lowSpeedBytes))
        _ = sous_curl_easy_setopt_long(h, CURLOPT_LOW_SPEED_TIME, max(1, (milliseconds(t.lowSpeedTime) + 999) / 1000))
        if let total = t.total { _ = sous_curl_easy_setopt_long(h, CURLOPT_TIMEOUT_MS, max(1, milliseconds(total))) }

        // Method and body.
        let method = request.method.uppercased()
        let hasBody = request.body.length > 0 || ["POST", "PUT", "PATCH"].contains(method)
        var lines: [String] = []
        if method == "HEAD" {
            _ = sous_curl_easy_setopt_long(h, CURLOPT_NOBODY, 1)
        } else if hasBody {
            _ = sous_curl_easy_setopt_long(h, CURLOPT_UPLOAD, 1)
            _ = sous_curl_easy_setopt_off(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.length))
            // Large bodies go in 1 MiB reads and sends instead of libcurl's default 64 KiB.
            if request.body.length >= 1 << 20 { _ = sous_curl_easy_setopt_long(h, CURLOPT_UPLOAD_BUFFERSIZE, 1 << 20) }
            if method != "PUT" { _ = sous_curl_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, method) }
            lines.append("Expect:")
            switch request.body {
            case .empty: break
            case .bytes(let d): r.bodyData = d
            case .file(let path, let offset, _):
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    throw HTTPError(
                        kind: .fileRead, message: "cannot open \(path): \(String(cString: strerror(errno)))",
                        url: HTTPError.redacted(request.url))
                }
                r.fd = fd
                r.fileOffset = offset
            }
            r.bodyLength = request.body.length
            _ = sous_curl_easy_setopt_read(h) { buffer, size, count, user in
                guard let user, let buffer else { return sous_curl_readfunc_abort() }
                let r = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue().resources
                let want = min(UInt64(size * count), r.bodyLength - r.position)
                if want == 0 { return 0 }
                if r.fd >= 0 {
                    let n = pread(r.fd, buffer, Int(want), off_t(r.fileOffset + r.position))
                    if n <= 0 { return sous_curl_readfunc_abort() }  // error or file shorter than declared
                    r.position += UInt64(n)
                    return n
                }
                let start = r.bodyData.startIndex + Int(r.position)
                r.bodyData.withUnsafeBytes { raw in
                    let src = raw.baseAddress!.advanced(by: start - r.bodyData.startIndex)
                    UnsafeMutableRawPointer(buffer).copyMemory(from: src, byteCount: Int(want))
                }
                r.position += want
                return Int(want)
            }
            _ = sous_curl_easy_setopt_ptr(h, CURLOPT_READDATA, me)
            _ = sous_curl_easy_setopt_seek(h) { user, offset, origin in
                guard let user, origin == SEEK_SET else { return 2 }  // CURL_SEEKFUNC_CANTSEEK
                let r = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue().resources
                guard offset >= 0, UInt64(offset) <= r.bodyLength else { return 1 }  // CURL_SEEKFUNC_FAIL
                r.position = UInt64(offset)
                return 0
            }
            _ = sous_curl_easy_setopt_ptr(h, CURLOPT_SEEKDATA, me)
        } else if method != "GET" {
            _ = sous_curl_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, method)
        }

        // Headers (an empty value is sent as "Name;" which curl turns into an empty header).
        for (name, value) in request.headers {
            if name.caseInsensitiveCompare("Expect") == .orderedSame { continue }
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        for line in lines { r.headerList = curl_slist_append(r.headerList, line) }
        if let list = r.headerList { _ = sous_curl_easy_setopt_slist(h, CURLOPT_HTTPHEADER, list) }

        _ = sous_curl_easy_setopt_header(h) { data, size, count, user in
            guard let user, let data else { return 0 }
            let t = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
            let n = size * count
            data.withMemoryRebound(to: UInt8.self, capacity: n) { t.headerLine(UnsafeBufferPointer(start: $0, count: n)) }
            return n
        }
        _ = sous_curl_easy_setopt_ptr(h, CURLOPT_HEADERDATA, me)
        _ = sous_curl_easy_setopt_write(h) { data, size, count, user in
            guard let user, let data else { return 0 }
            let t = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
            let n = size * count
            switch t.body(UnsafeRawBufferPointer(start: data, count: n)) {
            case .accepted: return n
            case .pause: return sous_curl_writefunc_pause()
            case .abort: return 0
            }
        }
        _ = sous_curl_easy_setopt_ptr(h, CURLOPT_WRITEDATA, me)
    }

    private func milliseconds(_ d: Duration) -> Int {
        let c = d.components
        return Int(c.seconds) * 1000 + Int(c.attoseconds / 1_000_000_000_000_000)
    }

    // MARK: The engine thread

    private func run() {
        guard let multi else { return }
        let m = multi.raw
        var active: [UnsafeMutableRawPointer: Transfer] = [:]
        while true {
            let pending = commands.withLock { c -> [Command] in
                let taken = c.list
                c.list.removeAll()
                return taken
            }
            for command in pending {
                switch command {
                case .add(let t):
                    guard let easy = t.resources.easy else { continue }
                    if t.isCancelRequested {
                        t.resources.release()
                        t.finish(HTTPError(kind: .cancelled, message: "cancelled", url: HTTPError.redacted(t.url)))
                    } else if curl_multi_add_handle(m, easy) == CURLM_OK {
                        active[easy] = t
                    } else {
                        t.resources.release()
                        t.finish(HTTPError(kind: .other, message: "libcurl refused the transfer", url: HTTPError.redacted(t.url)))
                    }
                case .cancel(let t):
                    if let easy = t.resources.easy, active.removeValue(forKey: easy) != nil {
                        _ = curl_multi_remove_handle(m, easy)
                        t.resources.release()
                        t.finish(HTTPError(kind: .cancelled, message: "cancelled", url: HTTPError.redacted(t.url)))
                    }
                case .unpause(let t):
                    if let easy = t.resources.easy, active[easy] != nil { _ = sous_curl_easy_unpause(easy) }
                case .shutdown:
                    let late = commands.withLock { c -> [Command] in
                        c.closed = true
                        return c.list
                    }
                    for case .add(let t) in late where t.resources.easy != nil {
                        active[t.resources.easy!] = t
                        _ = curl_multi_add_handle(m, t.resources.easy!)
                    }
                    for (easy, t) in active {
                        _ = curl_multi_remove_handle(m, easy)
                        t.resources.release()
                        t.finish(HTTPError(kind: .cancelled, message: "client shut down", url: HTTPError.redacted(t.url)))
                    }
                    curl_multi_cleanup(m)
                    return
                }
            }
            var running: Int32 = 0
            _ = curl_multi_perform(m, &running)
            var left: Int32 = 0
            while let msg = curl_multi_info_read(m, &left) {
                guard sous_curl_msg_is_done(msg) != 0, let easy = msg.pointee.easy_handle else { continue }
                let code = sous_curl_msg_result(msg)
                _ = curl_multi_remove_handle(m, easy)
                guard let t = active.removeValue(forKey: easy) else { continue }
                let error = code == CURLE_OK ? nil : Self.error(code, t)
                t.resources.release()
                t.finish(error)
            }
            var fds: Int32 = 0
            _ = curl_multi_poll(m, nil, 0, 1000, &fds)
        }
    }

    private static func error(_ code: CURLcode, _ t: Transfer) -> HTTPError {
        if t.isCancelRequested {
            return HTTPError(kind: .cancelled, message: "cancelled", url: HTTPError.redacted(t.url))
        }
        var text = t.resources.errorText
        if text.isEmpty { text = String(cString: curl_easy_strerror(code)) }
        let kind: HTTPError.Kind
        var transient: Bool?
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .couldNotResolve
        case CURLE_COULDNT_CONNECT: kind = .couldNotConnect
        case CURLE_OPERATION_TIMEDOUT: kind = .timedOut
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ENGINE_NOTFOUND:
            kind = .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_HTTP2,
            CURLE_HTTP2_STREAM, CURLE_SEND_FAIL_REWIND:
            kind = .connectionReset
        case CURLE_TOO_MANY_REDIRECTS: kind = .tooManyRedirects
        case CURLE_ABORTED_BY_CALLBACK, CURLE_READ_ERROR:
            // Only the request-body read callback aborts (a real cancel was handled above).
            kind = .fileRead
            if text == "Operation was aborted by an application callback" || text.isEmpty {
                text = "the request body file could not be read (shorter than the declared length?)"
            }
        case CURLE_WRITE_ERROR: kind = .fileWrite
        case CURLE_HTTP3, CURLE_QUIC_CONNECT_ERROR: kind = .connectionReset
        default:
            kind = .other
            transient = false
        }
        return HTTPError(kind: kind, message: text, url: HTTPError.redacted(t.url), isTransient: transient)
    }
}
