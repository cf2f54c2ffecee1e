public import Foundation

/// Runs the built `sous` executable, as a user would.
public enum SousBinary {
    /// The `sous` built next to the test bundle (or `SOUS_BIN`).
    public static var path: String {
        if let p = ProcessInfo.processInfo.environment["SOUS_BIN"], !p.isEmpty { return p }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // The test runner may live inside a .xctest bundle folder.
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("sous").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return TestPaths.packageRoot.appendingPathComponent(".build/debug/sous").path
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `sous args…` in `cwd` with extra environment, and waits for it.
    @discardableResult
    public static func run(_ args: [String], cwd: URL, env: [String: String] = [:], stdin: String? = nil) throws -> Result {
        let p = try start(args, cwd: cwd, env: env)
        if let stdin { p.stdinPipe.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? p.stdinPipe.fileHandleForWriting.close()
        return p.wait()
    }

    /// Runs `sous args…` with a terminal (a pseudo-terminal) as its standard input, as when a user types:
    /// `answers` are typed ahead (one line per question). Output still goes to pipes.
    public static func runOnTerminal(_ args: [String], cwd: URL, env: [String: String] = [:], answers: String) throws -> Result {
        // The pseudo-terminal calls are not in Swift's Glibc module (they need _XOPEN_SOURCE): look them up.
        typealias OpenPT = @convention(c) (Int32) -> Int32
        typealias PTName = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?
        func symbol<T>(_ name: String, as: T.Type) throws -> T {
            guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { throw CocoaError(.featureUnsupported) }
            return unsafeBitCast(p, to: T.self)
        }
        let openpt = try symbol("posix_openpt", as: OpenPT.self)
        let grant = try symbol("grantpt", as: OpenPT.self)
        let unlock = try symbol("unlockpt", as: OpenPT.self)
        let ptsname = try symbol("ptsname", as: PTName.self)
        let master = openpt(O_RDWR | O_NOCTTY)
        guard master >= 0, grant(master) == 0, unlock(master) == 0, let name = ptsname(master) else {
            throw CocoaError(.fileReadUnknown)
        }
        defer { close(master) }
        let slave = open(String(cString: name), O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw CocoaError(.fileReadUnknown) }
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: true)
        // A thread drains what the terminal echoes, so typing ahead never blocks on a full buffer.
        let drain = Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while buffer.withUnsafeMutableBytes({ read(master, $0.baseAddress, $0.count) }) > 0 {}
        }
        let p = try start(args, cwd: cwd, env: env, stdin: terminal)
        drain.start()
        let bytes = Array(answers.utf8)
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
        let result = p.wait()
        try? terminal.close()
        return result
    }

    /// Starts `sous args…` without waiting.
    public static func start(_ args: [String], cwd: URL, env: [String: String] = [:]) throws -> Running {
        try start(args, cwd: cwd, env: env, stdin: nil)
    }

    static func start(_ args: [String], cwd: URL, env: [String: String], stdin: FileHandle?) throws -> Running {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.currentDirectoryURL = cwd
        var e = ProcessInfo.processInfo.environment
        e["NO_COLOR"] = "1"
        e.removeValue(forKey: "SOUS_WORKSPACE")
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = stdin ?? inp
        let running = Running(process: p, out: out, err: err, stdinPipe: inp)
        try p.run()
        return running
    }

    /// A started `sous` process; output is collected in the background.
    public final class Running: @unchecked Sendable {
        // @unchecked: the buffers are guarded by `lock`.
        public let process: Process
        let stdinPipe: Pipe
        private let lock = NSLock()
        private var outData = Data()
        private var errData = Data()
        private let group = DispatchGroup()

        init(process: Process, out: Pipe, err: Pipe, stdinPipe: Pipe) {
            self.process = process
            self.stdinPipe = stdinPipe
            for (pipe, isOut) in [(out, true), (err, false)] {
                group.enter()
                pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
                    let d = h.availableData
                    guard let self else { return }
                    if d.isEmpty {
                        h.readabilityHandler = nil
                        self.group.leave()
                        return
                    }
                    self.lock.lock()
                    if isOut { self.outData.append(d) } else { self.errData.append(d) }
                    self.lock.unlock()
                }
            }
        }

        public var pid: Int32 { process.processIdentifier }
        public var stdoutSoFar: String { lock.lock(); defer { lock.unlock() }; return String(decoding: outData, as: UTF8.self) }

        /// Waits for exit and returns everything printed.
        public func wait() -> Result {
            process.waitUntilExit()
            // The pipes reach EOF once the process and anything that inherited them are gone; the handlers may lag
            // behind the exit on a loaded machine, so wait generously (a test never waits this long when all is well).
            _ = group.wait(timeout: .now() + 60)
            lock.lock()
            defer { lock.unlock() }
            return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
        }
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes (never a fixed sleep).
public func waitUntil(timeout: TimeInterval = 30, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)  // poll interval
    }
    return condition()
}
