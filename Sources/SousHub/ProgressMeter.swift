import Synchronization

/// Aggregates bytes across parallel downloads and throttles the callback.
///
/// `bytesDone` counts the bytes on disk: files found complete, and for each file being downloaded the length
/// of its partial file. A retry that resumes a partial file, or a server that ignores `Range` and sends the
/// whole file again, so never counts a byte twice.
final class ProgressMeter: Sendable {
    private struct State {
        var done: UInt64 = 0
        var downloaded: UInt64 = 0
        var filesDone = 0
        /// The bytes of each file in progress counted in `done` (the length of its partial file).
        var partial: [String: UInt64] = [:]
        var lastReport: ContinuousClock.Instant?
    }
    private let state = Mutex(State())
    private let total: UInt64
    private let files: Int
    private let start = ContinuousClock.now
    private let callback: (@Sendable (HubProgress) -> Void)?

    init(total: UInt64, files: Int, callback: (@Sendable (HubProgress) -> Void)?) {
        self.total = total
        self.files = files
        self.callback = callback
    }

    var downloaded: UInt64 { state.withLock { $0.downloaded } }

    /// A download of `file` (re)starts with `offset` bytes already in its partial file.
    func resuming(_ file: String, from offset: UInt64) {
        update(force: false) { s in
            s.done = s.done - (s.partial[file] ?? 0) + offset
            s.partial[file] = offset
        }
    }

    /// The server ignored the `Range` of a resumed download: `file`'s partial file starts over, empty.
    func restarted(_ file: String) { resuming(file, from: 0) }

    /// `n` bytes of `file` arrived over the network (and were written to its partial file).
    func add(_ n: UInt64, to file: String) {
        update(force: false) { s in
            s.done += n
            s.downloaded += n
            s.partial[file, default: 0] += n
        }
    }

    /// `file` is in the cache now, `size` bytes long (downloaded, or its blob was already there: another
    /// process fetched it, or another file of the snapshot has the same content).
    func fileDownloaded(_ file: String, size: UInt64) {
        update(force: false) { s in
            s.done = s.done - (s.partial.removeValue(forKey: file) ?? 0) + size
            s.filesDone += 1
        }
    }

    /// A file was already complete (cached, or taken from a local folder): its `size` bytes count as done.
    func fileDone(alreadyHad size: UInt64) {
        update(force: false) { s in
            s.done += size
            s.filesDone += 1
        }
    }

    /// Reports the final figures (whatever the throttle).
    func finish() { update(force: true) { _ in } }

    private func update(force: Bool, _ change: (inout State) -> Void) {
        let now = ContinuousClock.now
        let report: HubProgress? = state.withLock { s in
            change(&s)
            guard callback != nil else { return nil }
            if !force, let last = s.lastReport, now - last < .milliseconds(100) { return nil }
            s.lastReport = now
            let elapsed = (now - start) / .seconds(1)
            let rate = elapsed > 0 ? Double(s.downloaded) / elapsed : 0
            let left = total > s.done ? total - s.done : 0
            let eta: Duration? = rate > 0 ? .milliseconds(Int64(Double(left) / rate * 1000)) : nil
            return HubProgress(
                bytesDone: s.done, bytesTotal: max(total, s.done), bytesPerSecond: rate, eta: eta,
                filesDone: s.filesDone, filesTotal: files)
        }
        if let report { callback?(report) }
    }
}
