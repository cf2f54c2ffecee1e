import ArgumentParser
import Foundation
import SousAWS
import SousBench
import SousSteps
import SousStreaming

/// `sous bench …` (hidden): measurements used by scripts/bench-*.sh.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (for scripts/bench-*.sh).", shouldDisplay: false,
        subcommands: [BenchStreamCommand.self, BenchLLMCommand.self])
}

/// `sous bench llm`: prefill and decode speed of a local model (scripts/bench-llm.sh compares it with llama2.c).
struct BenchLLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm", abstract: "Measure prefill and decode tokens/s of a local model (best of --repeats).")

    @Option(help: "Model directory holding config.json, tokenizer.json and *.safetensors.")
    var model: String

    @Option(help: "Matmul threads (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("prompt-tokens"), help: "Prompt length prefilled in one pass.")
    var promptTokens: Int = 128

    @Option(help: "Tokens decoded one by one from BOS.")
    var tokens: Int = 256

    @Option(help: "Runs; the best is reported.")
    var repeats: Int = 3

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    func run() throws {
        let r = try runLLMBenchmark(
            directory: model, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
            promptTokens: promptTokens, decodeTokens: tokens, repeats: repeats)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(r), as: UTF8.self))
        } else {
            print(
                String(
                    format: "%@ %@ threads=%d prefill %.1f tok/s decode %.1f tok/s (%.1f GB/s of weights)", r.model, r.dtype,
                    r.threads, r.prefillTokensPerSecond, r.decodeTokensPerSecond, r.weightBandwidthGBs))
        }
    }
}

/// `sous bench stream`: decodes an event-stream file of PayloadParts with the same code `sous invoke`
/// uses (event-stream decoder, container parser, text sink) and prints a `SOUS_BENCH` line.
struct BenchStreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Measure stream decoding throughput and added latency per token on an event-stream file.",
        discussion: """
            With --generate, first writes DIR/bench-tgi.es and DIR/bench-lmi.es (about --mb MB each: synthetic \
            TGI and LMI outputs cut into PayloadParts of 1–256 bytes at seeded random places) and their \
            expected text sizes. Then measures every file given with --file (or the generated ones).
            """)

    @Option(help: "Event-stream file to measure (repeatable).")
    var file: [String] = []

    @Option(help: ArgumentHelp("Container format of the payload.", valueName: "tgi|lmi|jsonlines|raw|auto"))
    var format: StreamFormat = .auto

    @Flag(help: "Generate the benchmark files first (into --dir).")
    var generate = false

    @Flag(name: .customLong("generate-only"), help: "Generate the files and stop.")
    var generateOnly = false

    @Option(help: "Folder for generated files.")
    var dir: String = "."

    @Option(help: "Approximate size of each generated file, in MB.")
    var mb: Double = 100

    @Option(name: .customLong("latency-frames"), help: "Frames fed one by one for the latency measurement.")
    var latencyFrames: Int = 200_000

    func run() async throws {
        var targets: [(path: String, format: StreamFormat)] = []
        let given = format
        if generate || generateOnly {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for f in [StreamFormat.tgi, .lmi] {
                let path = (dir as NSString).appendingPathComponent("bench-\(f.rawValue).es")
                // Same seeds and sizes as RuntimeBenchmarkTests: parts average 128 payload bytes + ~95 bytes of
                // frame, so the file is ~1.75x the container output.
                var writer = try EventStreamFileWriter(path: path, seed: 7, maxPart: 256)
                let summary = try SyntheticStream.generate(format: f, approximateBytes: Int(mb * 1_000_000 / 1.75), seed: 3) {
                    try writer.write($0)
                }
                try writer.close()
                try "\(summary.textBytes) \(summary.tokens)".write(toFile: path + ".expected", atomically: true, encoding: .utf8)
                print(String(format: "generated %@ (%.1f MB, %d frames, %d tokens)", path, Double(writer.bytesWritten) / 1e6, writer.frames, summary.tokens))
                if file.isEmpty { targets.append((path, f)) }
            }
        }
        if generateOnly { return }
        for path in file {
            var f = given
            if f == .auto {
                let name = (path as NSString).lastPathComponent
                f = StreamFormat.allCases.first { $0 != .auto && name.contains("-\($0.rawValue).") } ?? .auto
            }
            targets.append((path, f))
        }
        if targets.isEmpty { throw ValidationError("give --file PATH or --generate") }
        var failed = false
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        for t in targets {
            // Throughput: the text is written to /dev/null in 64 KiB blocks (as `sous invoke > file` would;
            // the peer's printer writes to /dev/null too).
            var sink = StreamTextSink(format: t.format, fileDescriptor: devNull, flushEachPart: false)
            let result: StreamBenchmarkResult
            do {
                result = try EventStreamBenchmark.throughput(file: t.path, consume: { sink.write($0) }, finish: { sink.finish() })
            } catch {
                FileHandle.standardError.write(Data("error: \(t.path): \(error)\n".utf8))
                throw ExitCode(1)
            }
            if let expected = try? String(contentsOfFile: t.path + ".expected", encoding: .utf8)
                .split(separator: " ").compactMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }),
                let bytes = expected.first, bytes != sink.textBytes
            {
                FileHandle.standardError.write(Data("error: \(t.path): decoded \(sink.textBytes) text bytes, expected \(bytes)\n".utf8))
                failed = true
            }
            if !sink.errors.isEmpty {
                FileHandle.standardError.write(Data("error: \(t.path): \(sink.errors.count) stream errors: \(sink.errors.prefix(3))\n".utf8))
                failed = true
            }
            // The same bytes through what `sous invoke`, `sous chat` and the invoke step run: the Runtime
            // client's payload iterator over 128 KiB reads (libcurl's buffer here), AnswerStream (per-token
            // events, the answer accumulated and timed) and one write per batch of parts that arrived together.
            let (eventPath, answerBytes) = try await Self.productPath(file: t.path, format: t.format, fd: devNull)
            if answerBytes != sink.textBytes {
                FileHandle.standardError.write(Data("error: \(t.path): sous invoke's path gave \(answerBytes) text bytes, the sink \(sink.textBytes)\n".utf8))
                failed = true
            }
            FileHandle.standardError.write(Data(String(
                format: "bench %@ through sous invoke's path (payload iterator, AnswerStream, one write per arrival): %.1f MB/s, %.1f MB per CPU second\n",
                t.format.rawValue, eventPath.mbps, eventPath.cpuMbps).utf8))
            // Latency: every frame arrives alone and its text is written (flushed) to /dev/null.
            var live = StreamTextSink(format: t.format, fileDescriptor: devNull, flushEachPart: true)
            let latency = try EventStreamBenchmark.latency(file: t.path, maxFrames: latencyFrames, consume: { live.write($0) })
            FileHandle.standardError.write(Data("bench \(t.format.rawValue): \(result); \(latency)\n".utf8))
            print(
                String(
                    format: "SOUS_BENCH format=%@ file=%@ mb=%.1f mbps=%.1f cpumbps=%.1f eventmbps=%.1f p50us=%.2f p99us=%.2f tokens=%d textbytes=%d",
                    t.format.rawValue, t.path, Double(result.fileBytes) / 1e6, result.megabytesPerSecond,
                    result.megabytesPerCPUSecond, eventPath.mbps, latency.p50Microseconds,
                    latency.p99Microseconds, result.tokens, sink.textBytes))
        }
        if failed { throw ExitCode(1) }
    }

    /// Times the product's consuming path over the file's bytes (read first, not timed) delivered in 128 KiB
    /// chunks; returns (MB/s wall, MB per CPU second) and the answer's UTF-8 size.
    static func productPath(file: String, format: StreamFormat, fd: Int32) async throws -> ((mbps: Double, cpuMbps: Double), Int) {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let chunks = stride(from: 0, to: data.count, by: 128 << 10).map { data[$0..<min($0 + (128 << 10), data.count)] }
        var answer = AnswerStream(request: InvocationRequest(endpoint: "bench", body: Data(), format: format))
        func cpu() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }
        let clock = ContinuousClock()
        let start = clock.now
        let cpuStart = cpu()
        try await EventStreamBenchmark.payloadArrivals(
            chunks: chunks, payload: { raw in answer.feed(raw) { _ in } },
            arrived: {
                answer.flush { text in
                    var piece = text
                    piece.withUTF8 { _ = Foundation.write(fd, $0.baseAddress, $0.count) }
                }
            })
        answer.finish { _ in }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let cpuSeconds = cpu() - cpuStart
        let mb = Double(data.count) / 1e6
        return ((mb / seconds, mb / max(cpuSeconds, 1e-9)), answer.text.utf8.count)
    }
}
