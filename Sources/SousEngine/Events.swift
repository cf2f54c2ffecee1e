import Foundation
public import SousRecipe

/// What the engine reports while it plans and runs; the CLI renders it (terminal or JSON lines).
/// Every text in an event is already redacted.
public enum RunEvent: Sendable {
    case runStarted(recipe: String, runID: String, steps: Int, workspace: String)
    case stepStarted(index: Int, total: Int, step: String, kind: String, reason: String)
    case stepSkipped(index: Int, total: Int, step: String, kind: String, reason: String)
    /// Streamed output of a step (tokens, command output); written as it arrives.
    case stepOutput(step: String, text: String)
    /// A log line (shown with --verbose; always kept in the step's log file).
    case stepLog(step: String, line: String)
    /// A live status (progress bar text) for TTYs; the latest replaces the previous one.
    case stepProgress(step: String, status: String)
    case stepFinished(index: Int, total: Int, step: String, kind: String, duration: Double, outputs: ValueMap)
    case stepFailed(index: Int, total: Int, step: String, kind: String, duration: Double, error: String)
    case warning(step: String?, message: String)
    case runFinished(runID: String, status: RunStatus, duration: Double, recordPath: String)
}

/// How a run ended.
public enum RunStatus: String, Sendable, Codable {
    case succeeded, failed, interrupted
}

/// Receives run events.
public protocol RunReporter: Sendable {
    func handle(_ event: RunEvent)
}

/// A reporter that drops everything (for tests and read-only commands).
public struct SilentReporter: RunReporter {
    public init() {}
    public func handle(_ event: RunEvent) {}
}
