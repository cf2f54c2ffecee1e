import Foundation
import SousEngine
import SousRecipe
import Synchronization

/// `shell`: runs a command with a declared environment; output captured, redacted and recorded.
///
/// Declaring `sources` and `generates` (as Taskfile and DVC do) makes it cached like a pure
/// step: it reruns only when the command, its environment or a source changed, or a generated
/// file is gone. Without them it is an effect and runs every time.
///
/// The `${{ }}` values in `command` reach the shell as environment variables (`"${SOUS_VALUE_1}"` in
/// the text), never as command text: see ``ShellCommand``. Version 2 (version 1 pasted them in).
struct ShellKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "shell", version: 2, category: .effect,
        summary: "Run a shell command once you approve it, its ${{ }} values passed as data (cached when it declares the files it reads and writes).")

    struct Inputs: StepInputs {
        @Input(
            role: .shellCommand,
            "the command, run with /bin/sh -c in the recipe's work folder after you approve it; each ${{ }} reaches it as data (an environment variable, \"${SOUS_VALUE_1}\" in the text), never as code; no ${{ secrets.x }} here (use env)")
        var command: String
        @Input("environment variables added for the command (use ${{ secrets.x }} for secrets)") var env: ValueMap?
        @Input(role: .readPaths, "files or folders the command reads: part of the cache key") var sources: [Value]?
        @Input(
            role: .outputPath, "files or folders the command writes, inside the recipe's work folder: the step is cached while they exist")
        var generates: [Value]?
        @Input(role: .outputPath, "folder to run in, inside the recipe's work folder") var workdir: String?
    }

    struct Outputs: StepOutputs {
        @Output("the command's standard output (last 64 KiB)") var stdout: String
        @Output("its exit status") var exitCode: Int
        @Output("absolute paths of the declared generated files") var generated: [Value]
    }

    func category(for inputs: Inputs) -> StepCategory {
        inputs.generates?.isEmpty == false ? .pure : .effect
    }

    func planDetails(_ inputs: Inputs) -> [String] { ["$ " + inputs.command] }

    func confirmationDetails(_ inputs: Inputs) -> [String] {
        var lines: [String] = []
        let env = inputs.env ?? ValueMap()
        if !env.isEmpty {
            lines.append("env: " + env.map { "\($0.key)=" + Value.string($0.value.stringValue ?? $0.value.interpolationText).jsonString() }.joined(separator: " "))
        }
        if let dir = inputs.workdir, !dir.isEmpty { lines.append("in: work/\(dir)") }
        return lines
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        for g in outputs.generated {
            if let p = g.stringValue, !FileManager.default.fileExists(atPath: p) {
                return .invalid("generated file is missing: \(p)")
            }
        }
        return .valid
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let command = inputs.command
        let dir = try ctx.confinedPath(inputs.workdir ?? ".")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var generated: [String] = []
        for g in inputs.generates ?? [] {
            guard let s = g.stringValue else { throw StepError("'generates' must list paths") }
            generated.append(try ctx.confinedPath(s))
        }
        var env = ProcessInfo.processInfo.environment.filter { ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TERM"].contains($0.key) }
        env["SOUS_WORKSPACE"] = ctx.layout.workDir
        env["SOUS_RUN_ID"] = ctx.runID
        for e in inputs.env ?? ValueMap() { env[e.key] = e.value.stringValue ?? e.value.interpolationText }
        // The values of the command's ${{ }} expressions, which its text refers to.
        for (name, value) in ctx.commandEnvironment { env[name] = value }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let captured = Mutex<String>("")
        let readFD = pipe.fileHandleForReading.fileDescriptor
        let eof = Mutex(false)
        // A plain thread reads the pipe until EOF, streaming text as it arrives.
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 16_384)
            var pendingUTF8: [UInt8] = []
            while true {
                let n = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pendingUTF8 += buffer[0..<n]
                // Hold back an incomplete UTF-8 sequence at the end.
                var cut = pendingUTF8.count
                var back = 0
                while back < 3, cut - back - 1 >= 0, pendingUTF8[cut - back - 1] & 0xC0 == 0x80 { back += 1 }
                if cut - back - 1 >= 0 {
                    let lead = pendingUTF8[cut - back - 1]
                    let need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0
                    if need > back { cut = cut - back - 1 }
                }
                let text = String(decoding: pendingUTF8[0..<cut], as: UTF8.self)
                pendingUTF8.removeFirst(cut)
                if text.isEmpty { continue }
                captured.withLock {
                    $0 += text
                    if $0.utf8.count > 65_536 { $0 = String($0.suffix(60_000)) }
                }
                ctx.write(text)
            }
            if !pendingUTF8.isEmpty { ctx.write(String(decoding: pendingUTF8, as: UTF8.self)) }
            eof.withLock { $0 = true }
        }
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        ctx.log("$ \(command)")
        for (name, value) in ctx.commandEnvironment.sorted(by: { $0.key < $1.key }) {
            let shown = value.count > 200 ? String(value.prefix(200)) + "…" : value
            ctx.log("  \(name)=" + Value.string(shown).jsonString())
        }
        try process.run()
        // Our copy of the write end must close, or EOF never comes.
        try? pipe.fileHandleForWriting.close()
        reader.start()
        let pid = process.processIdentifier
        await withTaskCancellationHandler {
            for await _ in exited.stream {}
            // Background children may keep the pipe open: wait for EOF only briefly after exit.
            let deadline = ContinuousClock.now + .seconds(2)
            while !Task.isCancelled, ContinuousClock.now < deadline, !eof.withLock({ $0 }) {
                try? await Task.sleep(for: .milliseconds(10))  // poll for the reader's EOF until the deadline
            }
        } onCancel: {
            kill(pid, SIGTERM)
        }
        try Task.checkCancellation()
        let status = Int(process.terminationStatus)
        let out = ctx.redact(captured.withLock { $0 })
        if status != 0 {
            let tail = out.split(separator: "\n").suffix(5).joined(separator: "\n")
            throw StepError("command exited with status \(status)" + (tail.isEmpty ? "" : ":\n" + tail))
        }
        for g in generated where !FileManager.default.fileExists(atPath: g) {
            throw StepError("the command did not create '\(g)', which the step declares in 'generates'")
        }
        var outputs = Outputs()
        outputs.stdout = out
        outputs.exitCode = status
        outputs.generated = generated.map(Value.string)
        return outputs
    }
}
