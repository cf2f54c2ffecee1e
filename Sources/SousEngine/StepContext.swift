import Foundation
public import SousRecipe
import Synchronization
import SousCrypto

/// Everything a step kind sees while it runs.
public final class StepContext: Sendable {
    public let stepID: String
    public let kind: String
    /// Resolved inputs (secrets in clear), with schema defaults filled in: what the kind's ``StepKind/Inputs``
    /// are decoded from.
    let inputs: ValueMap
    public let layout: WorkspaceLayout
    public let runID: String
    public let recipeName: String
    /// The environment the run uses (the CLI points AWS endpoints at moto or the local cloud here).
    public let environment: [String: String]
    /// Answers confirmations automatically (`--yes`).
    public let assumeYes: Bool
    /// Objects step kinds share for the whole run (``ServiceKey``).
    public let services: Services
    let ledger: ResourceLedger
    let reporter: any RunReporter
    let redactor: Redactor
    /// The workspace's secret-hashing key (``WorkspaceLayout/hashingKey(create:)``).
    let key: [UInt8]
    /// Environment variables holding the values of the expressions in a shell-command input
    /// (``InputRole/shellCommand``): the command text refers to them instead of holding the values.
    public let commandEnvironment: [String: String]
    /// The output written so far (redacted), and the stream that redacts it across pieces.
    private let output: Mutex<(transcript: String, stream: RedactingStream)>
    let logLines = Mutex<[String]>([])

    init(
        stepID: String, kind: String, inputs: ValueMap, layout: WorkspaceLayout, runID: String, recipeName: String,
        environment: [String: String], assumeYes: Bool, services: Services, ledger: ResourceLedger,
        reporter: any RunReporter, redactor: Redactor, key: [UInt8], commandEnvironment: [String: String] = [:]
    ) {
        self.key = key
        self.commandEnvironment = commandEnvironment
        self.stepID = stepID
        self.kind = kind
        self.inputs = inputs
        self.layout = layout
        self.runID = runID
        self.recipeName = recipeName
        self.environment = environment
        self.assumeYes = assumeYes
        self.services = services
        self.ledger = ledger
        self.reporter = reporter
        self.redactor = redactor
        output = Mutex(("", RedactingStream(redactor)))
    }

    // MARK: output

    /// Streams text to the terminal as it arrives (redacted), and keeps it in the run record. A secret cut
    /// between two writes is masked whole: the end of a write that may begin one waits for the next write
    /// (or the end of the step).
    public func write(_ text: String) {
        emit { $0.feed(text) }
    }

    /// Shows what ``write(_:)`` held back: the step's output has ended.
    func finishOutput() {
        emit { $0.finish() }
    }

    private func emit(_ next: (inout RedactingStream) -> String) {
        let safe = output.withLock { o -> String in
            let safe = next(&o.stream)
            o.transcript += safe
            return safe
        }
        if !safe.isEmpty { reporter.handle(.stepOutput(step: stepID, text: safe)) }
    }

    /// Everything the step wrote, redacted (again, as a whole).
    var transcript: String { redactor.redact(output.withLock { $0.transcript }) }

    /// A log line: kept in the step's log file, shown with --verbose.
    public func log(_ line: String) {
        let safe = redactor.redact(line)
        logLines.withLock { $0.append(safe) }
        reporter.handle(.stepLog(step: stepID, line: safe))
    }

    /// A live status line on a TTY (progress); not kept.
    public func progress(_ status: String) {
        reporter.handle(.stepProgress(step: stepID, status: redactor.redact(status)))
    }

    /// A warning shown to the user and kept in the log.
    public func warn(_ message: String) {
        let safe = redactor.redact(message)
        logLines.withLock { $0.append("warning: " + safe) }
        reporter.handle(.warning(step: stepID, message: safe))
    }

    /// Text with every secret replaced by `***`.
    public func redact(_ text: String) -> String { redactor.redact(text) }

    /// A keyed hash (HMAC-SHA-256 under the workspace's key, hex) of `text`: it changes with the text but
    /// reveals nothing about a secret in it.
    public func keyedDigest(_ text: String) -> String { Digest.hmacSHA256(key: key, data: Data(text.utf8)).hexString }

    /// Resolves a path this step writes; it must stay inside the recipe's work folder
    /// (``WorkspaceLayout/confinedPath(_:)``).
    public func confinedPath(_ path: String) throws -> String { try layout.confinedPath(path) }

    // MARK: fault injection

    /// A crash point for the end-to-end tests: in a debug build (compiled with `SOUS_FAULT_INJECTION`, which
    /// Package.swift sets for debug builds only), `SOUS_TEST_KILL_AT=<point>` makes sous SIGKILL itself here,
    /// the way a machine dies, so a test can check that the next run adopts or resumes. A release build has
    /// no crash points: the variable means nothing to it.
    public func crashPoint(_ point: String) {
        #if SOUS_FAULT_INJECTION
            guard environment["SOUS_TEST_KILL_AT"] == point else { return }
            kill(getpid(), SIGKILL)
        #endif
    }

    /// The value of `SOUS_TEST_KILL_AT` after `prefix` (`s3.upload.bytes:` → "3000"), in a debug build; nil in
    /// a release build (see ``crashPoint(_:)``).
    public func crashParameter(_ prefix: String) -> String? {
        #if SOUS_FAULT_INJECTION
            guard let want = environment["SOUS_TEST_KILL_AT"], want.hasPrefix(prefix) else { return nil }
            return String(want.dropFirst(prefix.count))
        #else
            return nil
        #endif
    }

    // MARK: resources

    /// The name an unfinished create of this step used (after a crash), so the retry reuses it.
    public func pendingName(type: String) -> String? { ledger.openIntent(step: stepID, type: type)?.name }

    /// The latest live resource of `type` this step created.
    public func recordedResource(type: String) -> LedgerEntry? { ledger.latest(step: stepID, type: type) }

    /// Creates a resource through the ledger: the intent is written (fsynced) before `create`, the
    /// result after. When a previous run died between the two, `find` is asked first and an existing
    /// resource is adopted instead of created twice.
    /// - Returns: the resource's attributes and whether it was adopted.
    public func createResource(
        type: String, name: String, request: ResourceRequest,
        find: () async throws -> ValueMap?,
        create: () async throws -> ValueMap
    ) async throws -> (attributes: ValueMap, adopted: Bool) {
        if let open = ledger.openIntent(step: stepID, type: type), open.name == name {
            if let found = try await find() {
                var e = open
                e.state = .created
                e.attributes = found
                e.at = Date()
                try ledger.append(e)
                log("adopted \(type) '\(name)' left by an interrupted run")
                return (found, true)
            }
        }
        let id = "\(runID)-\(stepID)-\(type)-\(Digest.sha256(Data(name.utf8)).hexString.prefix(8))"
        var entry = LedgerEntry(
            id: id, step: stepID, kind: kind, type: type, name: name, requestHash: request.hash, state: .intent,
            attributes: ValueMap(), runID: runID, at: Date())
        try ledger.append(entry)
        let attrs = try await create()
        entry.state = .created
        entry.attributes = attrs
        entry.at = Date()
        try ledger.append(entry)
        return (attrs, false)
    }

    /// Records that a resource was deleted.
    public func markDeleted(_ entry: LedgerEntry) throws {
        var e = entry
        e.state = .deleted
        e.at = Date()
        try ledger.append(e)
    }

    /// Records new attributes of a live resource (e.g. a schedule moved to another time).
    public func updateResource(_ entry: LedgerEntry, attributes: ValueMap) throws {
        var e = entry
        e.state = .created
        e.attributes = attributes
        e.at = Date()
        try ledger.append(e)
    }

    /// The live ledger resources of `type`, whichever step created them.
    public func liveResources(type: String) -> [LedgerEntry] { ledger.live.filter { $0.type == type } }
}

/// What a create call asks for: its hash, computed once, is what the ledger records, so a recorded resource
/// made from the same request is recognised.
public struct ResourceRequest: Sendable {
    public let value: Value
    /// SHA-256 of the request's canonical JSON (keys sorted).
    public let hash: String

    public init(_ value: Value) {
        self.value = value
        hash = Digest.sha256(Data(value.jsonString(sorted: true).utf8)).hexString
    }
}

/// A service step kinds share for a run (a client cache), named by a type: `services[AWSClients.self]` gives
/// the one value of that key, made by ``makeValue()`` on first use.
public protocol ServiceKey {
    associatedtype Value: Sendable
    static func makeValue() -> Value
}

/// The services of a run, one per ``ServiceKey``.
public final class Services: Sendable {
    private let items = Mutex<[ObjectIdentifier: any Sendable]>([:])
    public init() {}

    /// The value of `key`, made on first use (once, even when steps ask at the same time).
    public subscript<Key: ServiceKey>(key: Key.Type) -> Key.Value {
        items.withLock { items in
            if let made = items[ObjectIdentifier(key)] as? Key.Value { return made }
            let made = Key.makeValue()
            items[ObjectIdentifier(key)] = made
            return made
        }
    }
}
