import Foundation
import SousEngine
import SousRecipe
import Synchronization

/// Output settings shared by commands.
struct OutputStyle: Sendable {
    var json = false
    var quiet = false
    var verbose = false
    var color: Bool
    var tty: Bool

    /// - Parameter fd: the descriptor the output goes to (colours only when it is a terminal).
    init(json: Bool, quiet: Bool, verbose: Bool, fd: Int32 = STDOUT_FILENO, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.json = json
        self.quiet = quiet
        self.verbose = verbose
        tty = isatty(fd) == 1
        color = tty && environment["NO_COLOR"].map(\.isEmpty) ?? true && environment["TERM"] != "dumb"
    }

    func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
    func dim(_ s: String) -> String { paint(s, "2") }
    func green(_ s: String) -> String { paint(s, "32") }
    func red(_ s: String) -> String { paint(s, "31") }
    func yellow(_ s: String) -> String { paint(s, "33") }
    func bold(_ s: String) -> String { paint(s, "1") }
}

/// Unbuffered writes to stdout/stderr (tokens must reach the terminal as they arrive).
enum Console {
    static func out(_ s: String) { write(STDOUT_FILENO, s) }
    static func err(_ s: String) { write(STDERR_FILENO, s) }
    private static func write(_ fd: Int32, _ s: String) {
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 {
                if errno == EINTR { continue }
                return
            }
            off += n
        }
    }
}

/// Renders run events for people: one line per step like an executed notebook's cells,
/// streamed step output in between, live progress on a TTY.
final class TerminalReporter: RunReporter, Sendable {
    let style: OutputStyle
    private struct State {
        var headerShown: Set<String> = []
        var lastOutputEndedWithNewline = true
        var progressShown = false
        var started: [String: (Int, Int, String)] = [:]
    }
    private let state = Mutex(State())

    init(style: OutputStyle) { self.style = style }

    private func label(_ i: Int, _ n: Int, _ step: String, _ kind: String) -> String {
        "\(style.dim("[\(i)/\(n)]")) \(style.bold(step))  \(style.dim(kind))"
    }

    private func clearProgress(_ s: inout State) {
        if s.progressShown {
            Console.err("\r\u{1B}[2K")
            s.progressShown = false
        }
    }

    private func endOutput(_ s: inout State) {
        if !s.lastOutputEndedWithNewline {
            Console.out("\n")
            s.lastOutputEndedWithNewline = true
        }
    }

    func handle(_ event: RunEvent) {
        state.withLock { s in
            switch event {
            case .runStarted(let recipe, let runID, _, _):
                if style.verbose { Console.err(style.dim("run \(runID) of \(recipe)\n")) }
            case .stepStarted(let i, let n, let step, let kind, let reason):
                s.started[step] = (i, n, kind)
                if style.verbose && !style.quiet { Console.err(style.dim("[\(i)/\(n)] \(step): runs because \(reason)\n")) }
            case .stepSkipped(let i, let n, let step, let kind, let reason):
                guard !style.quiet else { return }
                clearProgress(&s)
                Console.out("\(label(i, n, step, kind))  \(style.dim(reason))\n")
            case .stepOutput(let step, let text):
                clearProgress(&s)
                if !s.headerShown.contains(step), let (i, n, kind) = s.started[step], !style.quiet {
                    Console.out("\(label(i, n, step, kind))\n")
                    s.headerShown.insert(step)
                }
                Console.out(text)
                s.lastOutputEndedWithNewline = text.hasSuffix("\n")
            case .stepLog(_, let line):
                if style.verbose {
                    clearProgress(&s)
                    endOutput(&s)
                    Console.err(style.dim("  " + line) + "\n")
                }
            case .stepProgress(let step, let status):
                guard style.tty && !style.quiet else { return }
                Console.err("\r\u{1B}[2K" + style.dim("  \(step): \(status)"))
                s.progressShown = true
            case .stepFinished(let i, let n, let step, let kind, let duration, _):
                clearProgress(&s)
                endOutput(&s)
                guard !style.quiet else { return }
                let d = String(format: "ran %.1f s", duration)
                if s.headerShown.contains(step) {
                    Console.out("  \(style.green(d))\n")
                } else {
                    Console.out("\(label(i, n, step, kind))  \(style.green(d))\n")
                }
            case .stepFailed(let i, let n, let step, let kind, let duration, let error):
                clearProgress(&s)
                endOutput(&s)
                Console.out("\(label(i, n, step, kind))  \(style.red(String(format: "failed after %.1f s", duration)))\n")
                Console.err(style.red("error: ") + error + "\n")
            case .warning(let step, let message):
                clearProgress(&s)
                endOutput(&s)
                Console.err(style.yellow("warning: ") + (step.map { "\($0): " } ?? "") + message + "\n")
            case .runFinished(_, let status, let duration, let record):
                clearProgress(&s)
                endOutput(&s)
                if !style.quiet || status != .succeeded {
                    let text = String(format: "%@ in %.1f s · record: %@", status.rawValue, duration, record)
                    Console.err(style.dim(text) + "\n")
                }
            }
        }
    }
}

/// One JSON object per line per event, for scripts (`--json`).
final class JSONReporter: RunReporter, Sendable {
    func handle(_ event: RunEvent) {
        var m = ValueMap()
        switch event {
        case .runStarted(let recipe, let runID, let steps, let ws):
            m = ["event": "run_started", "recipe": .string(recipe), "run_id": .string(runID), "steps": .int(steps), "workspace": .string(ws)]
        case .stepStarted(let i, let n, let step, let kind, let reason):
            m = ["event": "step_started", "index": .int(i), "total": .int(n), "step": .string(step), "kind": .string(kind), "reason": .string(reason)]
        case .stepSkipped(let i, let n, let step, let kind, let reason):
            m = ["event": "step_skipped", "index": .int(i), "total": .int(n), "step": .string(step), "kind": .string(kind), "reason": .string(reason)]
        case .stepOutput(let step, let text):
            m = ["event": "step_output", "step": .string(step), "text": .string(text)]
        case .stepLog(let step, let line):
            m = ["event": "step_log", "step": .string(step), "line": .string(line)]
        case .stepProgress(let step, let status):
            m = ["event": "step_progress", "step": .string(step), "status": .string(status)]
        case .stepFinished(let i, let n, let step, let kind, let duration, let outputs):
            m = ["event": "step_finished", "index": .int(i), "total": .int(n), "step": .string(step), "kind": .string(kind), "duration_s": .number(duration), "outputs": .map(outputs)]
        case .stepFailed(let i, let n, let step, let kind, let duration, let error):
            m = ["event": "step_failed", "index": .int(i), "total": .int(n), "step": .string(step), "kind": .string(kind), "duration_s": .number(duration), "error": .string(error)]
        case .warning(let step, let message):
            m = ["event": "warning", "step": step.map(Value.string) ?? .null, "message": .string(message)]
        case .runFinished(let runID, let status, let duration, let record):
            m = ["event": "run_finished", "run_id": .string(runID), "status": .string(status.rawValue), "duration_s": .number(duration), "record": .string(record)]
        }
        Console.out(Value.map(m).jsonString() + "\n")
    }
}
