import Foundation
public import SousRecipe
import Synchronization
import SousCrypto

/// Everything a step kind sees while it runs.
public final class StepContext: Sendable {
    public let stepID: String
    public let kind: String
    /// Resolved inputs (secrets in clear: never print or store them), with schema defaults filled in.
    public let inputs: ValueMap
    public let layout: WorkspaceLayout
    public let runID: String
    public let recipeName: String
    /// The environment the run uses (the CLI points AWS endpoints at moto or the local cloud here).
    public let environment: [String: String]
    /// Answers confirmations automatically (`--yes`).
    public let assumeYes: Bool
    /// Shared objects the CLI provides to step kinds (clients, configuration).
    public let services: Services
    let ledger: ResourceLedger
    let reporter: any RunReporter
    let redactor: Redactor
    /// Environment variables holding the values of the expressions in a shell-command input
    /// (``InputRole/shellCommand``): the command text refers to them instead of holding the values.
    public let commandEnvironment: [String: String]
    let transcript = Mutex<String>("")
    let logLines = Mutex<[String]>([])

    init(
        stepID: String, kind: String, inputs: ValueMap, layout: WorkspaceLayout, runID: String, recipeName: String,
        environment: [String: String], assumeYes: Bool, services: Services, ledger: ResourceLedger,
        reporter: any RunReporter, redactor: Redactor, commandEnvironment: [String: String] = [:]
    ) {
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
    }

    // MARK: inputs

    public func string(_ name: String) throws -> String {
        guard let v = inputs[name] else { throw StepError("input '\(name)' is missing") }
        switch v {
        case .string(let s): return s
        case .null: throw StepError("input '\(name)' is missing")
        default: return v.interpolationText
        }
    }
    public func optionalString(_ name: String) -> String? {
        guard let v = inputs[name], v != .null else { return nil }
        return v.stringValue ?? v.interpolationText
    }
    public func int(_ name: String) throws -> Int {
        guard let i = inputs[name]?.intValue else { throw StepError("input '\(name)' must be an int") }
        return i
    }
    public func optionalInt(_ name: String) -> Int? { inputs[name]?.intValue }
    public func double(_ name: String) -> Double? { inputs[name]?.doubleValue }
    public func bool(_ name: String) -> Bool { inputs[name]?.boolValue ?? false }
    public func list(_ name: String) -> [Value] { inputs[name]?.listValue ?? [] }
    public func map(_ name: String) -> ValueMap { inputs[name]?.mapValue ?? ValueMap() }

    // MARK: output

    /// Streams text to the terminal as it arrives (redacted), and keeps it in the run record.
    public func write(_ text: String) {
        let safe = redactor.redact(text)
        transcript.withLock { $0 += safe }
        reporter.handle(.stepOutput(step: stepID, text: safe))
    }

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

    /// Resolves a path this step writes; it must stay inside the recipe's work folder
    /// (``WorkspaceLayout/confinedPath(_:)``).
    public func confinedPath(_ path: String) throws -> String { try layout.confinedPath(path) }

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
        type: String, name: String, request: Value,
        find: () async throws -> ValueMap?,
        create: () async throws -> ValueMap
    ) async throws -> (attributes: ValueMap, adopted: Bool) {
        let requestHash = Digest.sha256(Data(request.jsonString(sorted: true).utf8)).hexString
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
            id: id, step: stepID, kind: kind, type: type, name: name, requestHash: requestHash, state: .intent,
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

    /// Live ledger resources (any step) of `type` named `name`.
    public func liveResources(type: String) -> [LedgerEntry] { ledger.live.filter { $0.type == type } }
}

/// A bag of shared objects the CLI hands to step kinds, keyed by type.
public final class Services: Sendable {
    private let items: Mutex<[ObjectIdentifier: any Sendable]> = Mutex([:])
    public init() {}
    public func set<T: Sendable>(_ value: T, as type: T.Type = T.self) {
        items.withLock { $0[ObjectIdentifier(type)] = value }
    }
    public func get<T: Sendable>(_ type: T.Type) -> T? {
        items.withLock { $0[ObjectIdentifier(type)] as? T }
    }
}
