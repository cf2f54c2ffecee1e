public import Foundation

/// Paths shared by the test suites.
public enum TestPaths {
    /// The package root (the folder holding Package.swift).
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// `../shared` beside the repository (or `SOUS_SHARED_DIR`), when present.
    public static var shared: URL? {
        if let env = ProcessInfo.processInfo.environment["SOUS_SHARED_DIR"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        let url = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// A file or folder under `../shared`, or nil. A test that needs one says so with a trait, so that its
    /// absence shows as a skip: `.enabled(if: TestPaths.shared("testdata/x") != nil, "needs ../shared/testdata/x")`.
    public static func shared(_ relative: String) -> URL? {
        guard let base = shared else { return nil }
        let url = base.appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// A fresh temporary directory, removed by the caller.
    public static func makeTemporaryDirectory(_ prefix: String = "sous-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The python3 interpreter the tests use for peers (boto3, huggingface_hub, moto, tokenizers).
    public static var python: String {
        ProcessInfo.processInfo.environment["SOUS_PYTHON"] ?? "python3"
    }
}

/// A child process started by a test (a loopback server written in Python, moto, …) that prints
/// `PORT <n>` (or any line matching `portPattern`) once it listens; stopped in `stop()` or deinit.
public final class TestServerProcess: @unchecked Sendable {
    // @unchecked: the Process is only touched from init/stop, which tests call serially.
    public let process: Process
    public let port: Int
    private let output: Pipe

    /// Starts `executable` with `arguments` and waits (up to `timeout`) for a line holding the port.
    /// - Parameter portLine: extracts the port from one line of output, or returns nil.
    public init(
        executable: String, arguments: [String], environment: [String: String] = [:],
        timeout: TimeInterval = 60,
        portLine: @escaping (String) -> Int? = { line in
            line.hasPrefix("PORT ") ? Int(line.dropFirst(5).trimmingCharacters(in: .whitespaces)) : nil
        }
    ) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [executable] + arguments
        var env = ProcessInfo.processInfo.environment
        env["PYTHONUNBUFFERED"] = "1"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        process = p
        output = pipe
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = Data()
        var found: Int?
        let fd = pipe.fileHandleForReading.fileDescriptor
        var seen = ""
        while found == nil && Date() < deadline && p.isRunning {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 200)
            if ready <= 0 { continue }
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let nl = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                seen += line + "\n"
                if let port = portLine(line) { found = port; break }
            }
        }
        guard let port = found else {
            if p.isRunning { p.terminate() }
            throw TestServerError(message: "\(executable) did not report its port; output:\n\(seen)")
        }
        self.port = port
        // Keep draining output so the child never blocks on a full pipe.
        pipe.fileHandleForReading.readabilityHandler = { h in _ = h.availableData }
    }

    /// Starts the server like `init` but waits for its port on a dedicated thread, so the Swift
    /// concurrency pool (only as wide as the core count: 2 threads on CI) is never blocked while Python
    /// starts. Async tests must use this: a blocked pool delays every other test's continuations, so a
    /// request that libcurl ended after 1.2 s was observed by its test after 5-45 s.
    public static func start(
        executable: String, arguments: [String], environment: [String: String] = [:],
        timeout: TimeInterval = 60,
        portLine: @escaping @Sendable (String) -> Int? = { line in
            line.hasPrefix("PORT ") ? Int(line.dropFirst(5).trimmingCharacters(in: .whitespaces)) : nil
        }
    ) async throws -> TestServerProcess {
        try await offCooperativePool {
            try TestServerProcess(
                executable: executable, arguments: arguments, environment: environment, timeout: timeout,
                portLine: portLine)
        }
    }

    /// Stops the process. Test servers hold no state worth a graceful exit, and a child of the
    /// test runner may inherit a blocked SIGTERM, so this sends SIGKILL and waits for it.
    public func stop() {
        output.fileHandleForReading.readabilityHandler = nil
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { stop() } }
}

/// A test server failed to start.
public struct TestServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Runs blocking work (waiting for a child process, key generation, …) on a dedicated thread and
/// returns its result, keeping the Swift concurrency pool free for the tests' own continuations.
public func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
        let thread = Thread { cont.resume(with: Result { try work() }) }
        thread.name = "sous-test-blocking"
        thread.start()
    }
}
