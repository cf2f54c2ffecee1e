public import Foundation
public import SousRecipe

/// What the engine remembers about one step's last success.
public struct StepRecord: Codable, Sendable {
    public var kind: String
    public var version: Int
    public var category: StepCategory
    public var fingerprint: String
    /// Resolved inputs with secrets replaced by `«secret:NAME:keyed-hash»` markers.
    public var inputs: ValueMap
    /// Content digests of path inputs, keyed by input name, with the stat data they were computed from.
    public var pathInputs: [String: PathDigest]
    public var outputs: ValueMap
    /// Signatures of path outputs, keyed by output name.
    public var outputFiles: [String: FileSignature]
    public var runID: String
    public var finishedAt: Date
    public var duration: Double
}

/// A path input's stat signature and the content digest computed for it.
public struct PathDigest: Codable, Sendable, Equatable {
    public var path: String
    public var stat: FileSignature
    public var contentSHA256: String
}

/// A summary of one run, kept in the state for `sous status`.
public struct RunSummary: Codable, Sendable {
    public var runID: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var status: String
    public var ran: [String]
    public var skipped: [String]
    public var failed: String?
}

/// The persisted state of one recipe in a workspace (`state.json`).
public struct RecipeState: Codable, Sendable {
    public static let currentFormat = 1
    public var format: Int = RecipeState.currentFormat
    public var recipe: String
    public var recipePath: String?
    public var steps: [String: StepRecord] = [:]
    public var runs: [RunSummary] = []

    public init(recipe: String) { self.recipe = recipe }

    /// Loads the state, or an empty one when there is none.
    /// - Throws: ``WorkspaceError`` when the file is unreadable or from a newer sous.
    public static func load(_ layout: WorkspaceLayout) throws -> RecipeState {
        guard let data = FileManager.default.contents(atPath: layout.statePath) else {
            return RecipeState(recipe: layout.recipe)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        struct Probe: Decodable { var format: Int }
        guard let probe = try? decoder.decode(Probe.self, from: data) else {
            throw WorkspaceError("\(layout.statePath) is not a sous state file; move it away to start afresh")
        }
        guard probe.format <= currentFormat else {
            throw WorkspaceError("\(layout.statePath) was written by a newer sous (format \(probe.format)); upgrade sous")
        }
        do {
            return try decoder.decode(RecipeState.self, from: data)
        } catch {
            throw WorkspaceError("\(layout.statePath) is damaged (\(error)); move it away to start afresh")
        }
    }

    /// Writes the state atomically.
    public func save(_ layout: WorkspaceLayout) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try writeAtomically(try encoder.encode(self), to: layout.statePath)
    }
}

/// The recipe lock: an `flock` on `lock` (released by the kernel when the holder dies) plus the
/// holder's pid, host and start time written inside for messages.
public final class WorkspaceLock: @unchecked Sendable {
    // @unchecked: the descriptor is only used by the owner, in init and release().
    private var fd: Int32
    public let path: String

    public struct Holder: Codable, Sendable {
        public var pid: Int32
        public var host: String
        public var startedAt: Date
        public var command: String
    }

    /// Takes the lock, waiting up to `wait` seconds for a live holder.
    /// - Throws: ``LockTimeoutError`` naming the holder when the wait runs out.
    public init(path: String, wait: Double, command: String, onWait: (Holder?) -> Void = { _ in }) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw WorkspaceError("cannot open lock \(path): \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(wait)
        var told = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = Self.readHolder(path)
            if Date() >= deadline {
                close(fd)
                throw LockTimeoutError(path: path, holder: holder, waited: wait)
            }
            if !told {
                onWait(holder)
                told = true
            }
            usleep(50_000)  // poll the lock until the deadline
        }
        self.fd = fd
        let me = Holder(pid: getpid(), host: ProcessInfo.processInfo.hostName, startedAt: Date(), command: command)
        let enc = JSONEncoder()
        enc.dateEncodingStrategy = .iso8601
        if let data = try? enc.encode(me) {
            ftruncate(fd, 0)
            _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            fsync(fd)
        }
    }

    static func readHolder(_ path: String) -> Holder? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        let dec = JSONDecoder()
        dec.dateDecodingStrategy = .iso8601
        return try? dec.decode(Holder.self, from: d)
    }

    /// Releases the lock.
    public func release() {
        guard fd >= 0 else { return }
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}

/// Another `sous` process held the recipe's lock for longer than `--wait`.
public struct LockTimeoutError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var holder: WorkspaceLock.Holder?
    public var waited: Double
    public var description: String {
        let who = holder.map {
            "pid \($0.pid) on \($0.host) (`\($0.command)`, started \(ISO8601DateFormatter().string(from: $0.startedAt)))"
        } ?? "another sous process"
        return "the recipe is locked by \(who); waited \(String(format: "%.1f", waited)) s. Wait for it to finish, or pass --wait SECONDS to wait longer (lock: \(path))"
    }
}
