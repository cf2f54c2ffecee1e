public import Foundation
public import SousRecipe

/// One resource in the ledger: the intent written before a create call, its result after.
public struct LedgerEntry: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case intent, created, deleted }
    /// Unique id of the entry.
    public var id: String
    /// The step that created it and that step's kind.
    public var step: String
    public var kind: String
    /// The resource type (e.g. `sagemaker.endpoint`, `s3.object`).
    public var type: String
    /// The deterministic name the create call uses.
    public var name: String
    public var requestHash: String
    public var state: State
    public var attributes: ValueMap
    public var runID: String
    public var at: Date
}

/// An append-only, fsynced log of the resources a recipe creates (`ledger.jsonl`).
///
/// Each line is a full entry; the last line for an id wins. A line cut by a crash is ignored (and reported in
/// ``warnings``); the next append starts on a new line.
public final class ResourceLedger: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`.
    private let path: String
    private let lock = NSLock()
    private var byID: [String: LedgerEntry] = [:]
    private var order: [String] = []
    /// Problems found reading the file (a line cut by a crash).
    public private(set) var warnings: [String] = []

    public init(path: String) throws {
        self.path = path
        if let data = FileManager.default.contents(atPath: path) {
            let dec = JSONDecoder()
            dec.dateDecodingStrategy = .iso8601
            for (i, line) in data.split(separator: 0x0a, omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
                guard let e = try? dec.decode(LedgerEntry.self, from: Data(line)) else {
                    warnings.append("\(path) line \(i + 1) is incomplete or damaged (cut by a crash?); it is ignored")
                    continue
                }
                if byID[e.id] == nil { order.append(e.id) }
                byID[e.id] = e
            }
        }
    }

    /// All entries in creation order (latest state of each).
    public var entries: [LedgerEntry] { lock.withLock { order.compactMap { byID[$0] } } }

    /// Resources that may exist (created, or an intent whose result was never written).
    public var live: [LedgerEntry] { entries.filter { $0.state != .deleted } }

    /// The unfinished intent of `step` for `type`, if a previous run crashed between intent and result.
    public func openIntent(step: String, type: String) -> LedgerEntry? {
        entries.last { $0.step == step && $0.type == type && $0.state == .intent }
    }

    /// The latest live entry of `step` for `type`.
    public func latest(step: String, type: String) -> LedgerEntry? {
        entries.last { $0.step == step && $0.type == type && $0.state != .deleted }
    }

    /// Appends and fsyncs an entry.
    public func append(_ entry: LedgerEntry) throws {
        let enc = JSONEncoder()
        enc.dateEncodingStrategy = .iso8601
        enc.outputFormatting = [.sortedKeys]
        var data = try enc.encode(entry)
        data.append(0x0a)
        try lock.withLock {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0o644)
            guard fd >= 0 else { throw WorkspaceError("cannot write the ledger \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            // After a crash mid-write the file may end inside a line: start on a new one, or this entry would
            // join the cut line and be lost with it.
            var last: UInt8 = 0x0a
            if lseek(fd, -1, SEEK_END) >= 0, read(fd, &last, 1) == 1, last != 0x0a { data.insert(0x0a, at: 0) }
            let n = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n == data.count, fsync(fd) == 0 else {
                throw WorkspaceError("cannot write the ledger \(path): \(String(cString: strerror(errno)))")
            }
            if byID[entry.id] == nil { order.append(entry.id) }
            byID[entry.id] = entry
        }
    }
}
