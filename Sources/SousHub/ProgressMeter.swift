import Synchronization

/// Aggregates bytes across parallel downloads and throttles the callback.
final class ProgressMeter: Sendable {
    private struct State {
        var done: UInt64 = 0
        var downloaded: UInt64 = 0
        var filesDone = 0
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

    func add(_ n: UInt64) { update(force: false) { $0.done += n; $0.downloaded += n } }
    func resumed(_ n: UInt64) { update(force: false) { $0.done += n } }
    func restarted() {}
    func fileDone(alreadyHad: UInt64) { update(force: false) { $0.done += alreadyHad; $0.filesDone += 1 } }
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
