internal import CSousCurl
import Foundation
import Synchronization

/// Runs `curl_global_init` exactly once per process (Swift globals are initialised lazily and atomically).
private let curlGlobalInit: Bool = sous_curl_global_init_default() == CURLE_OK

/// A CURLM pointer. @unchecked Sendable: after init, only `curl_multi_wakeup` (thread-safe by contract)
/// is called off the curl thread.
private struct MultiPointer: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
}

/// One libcurl multi handle and the thread that drives it.
final class CurlMulti: Sendable {
    enum Command: Sendable {
        case add(Transfer)
        case cancel(Transfer)
        case unpause(Transfer)
        case shutdown
    }

    private let multi: MultiPointer?
    /// Pending commands; `closed` once the curl thread has shut down (the multi handle is then freed).
    private let commands = Mutex<(list: [Command], closed: Bool)>(([], false))
    let configuration: HTTPClient.Configuration
    /// Handed to every transfer (tests only).
    private let probe: (any TransferProbe)?
    /// Transfers started on this thread and not yet finished (`HTTPClient` starts a request on the least busy).
    private let inFlight = Atomic<Int>(0)
    var transfersInFlight: Int { inFlight.load(ordering: .relaxed) }

    init(configuration: HTTPClient.Configuration, probe: (any TransferProbe)? = nil) {
        _ = curlGlobalInit
        self.configuration = configuration
        self.probe = probe
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

    /// Queues a command for the curl thread and wakes it. Returns false once that thread has shut down.
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
        let transfer = Transfer(url: request.url, resources: resources, multi: self, probe: probe)
        guard multi != nil, let easy = curl_easy_init() else {
            throw HTTPError(kind: .other, message: "libcurl could not be initialised", url: HTTPError.redacted(request.url))
        }
        resources.easy = easy
        do {
            try resources.configure(request, for: transfer, configuration: configuration)
        } catch {
            resources.release()
            throw error
        }
        inFlight.add(1, ordering: .relaxed)
        guard submit(.add(transfer)) else {
            inFlight.subtract(1, ordering: .relaxed)
            resources.release()
            throw HTTPError(kind: .cancelled, message: "the HTTP client was shut down", url: HTTPError.redacted(request.url))
        }
        return transfer
    }

    /// Ends a transfer on the curl thread: its easy handle released, it no longer counts as in flight, then its
    /// consumer is told (so a request started after that sees this thread as less busy).
    private func end(_ t: Transfer, _ error: HTTPError?) {
        t.resources.release()
        inFlight.subtract(1, ordering: .relaxed)
        t.finish(error)
    }

    // MARK: The curl thread

    /// Drives the multi handle: runs queued commands, performs transfers, finishes those libcurl reports
    /// done, and sleeps in `curl_multi_poll` until there is I/O or a command (`curl_multi_wakeup`).

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
                        end(t, HTTPError(kind: .cancelled, message: "cancelled", url: HTTPError.redacted(t.url)))
                    } else if curl_multi_add_handle(m, easy) == CURLM_OK {
                        active[easy] = t
                    } else {
                        end(t, HTTPError(kind: .other, message: "libcurl refused the transfer", url: HTTPError.redacted(t.url)))
                    }
                case .cancel(let t):
                    if let easy = t.resources.easy, active.removeValue(forKey: easy) != nil {
                        _ = curl_multi_remove_handle(m, easy)
                        end(t, HTTPError(kind: .cancelled, message: "cancelled", url: HTTPError.redacted(t.url)))
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
                        end(t, HTTPError(kind: .cancelled, message: "client shut down", url: HTTPError.redacted(t.url)))
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
                end(t, code == CURLE_OK ? nil : HTTPError.curl(code, transfer: t))
            }
            var fds: Int32 = 0
            _ = curl_multi_poll(m, nil, 0, 1000, &fds)
        }
    }
}
