import Foundation
import SousStreaming
import SousTestSupport
import Testing

import SousAWS
import SousBench

/// The pieces `sous bench stream` wires together, checked for correctness on small generated files.
/// scripts/bench-stream.sh runs it in release with SOUS_BENCH_STREAM_MB=100 (target file size) and
/// SOUS_BENCH_STREAM_DIR (the files are kept there for the Python peer), and reads the SOUS_BENCH lines.
@Suite("Stream benchmark plumbing", .serialized)
struct RuntimeBenchmarkTests {
    static func makeFile(_ format: StreamFormat, mb: Double, in dir: URL) throws -> (path: String, textBytes: Int, tokens: Int) {
        let path = dir.appendingPathComponent("bench-\(format.rawValue).es").path
        // Parts average 128 payload bytes + ~95 bytes of frame: the file is ~1.75x the container output.
        if ProcessInfo.processInfo.environment["SOUS_BENCH_STREAM_REUSE"] == "1",
            let reuse = try? String(contentsOfFile: path + ".expected", encoding: .utf8).split(separator: " ").compactMap({ Int($0) }),
            reuse.count == 2
        {
            return (path, reuse[0], reuse[1])
        }
        var writer = try EventStreamFileWriter(path: path, seed: 7, maxPart: 256)
        let summary = try SyntheticStream.generate(format: format, approximateBytes: Int(mb * 1_000_000 / 1.75), seed: 3) {
            try writer.write($0)
        }
        try writer.close()
        try "\(summary.textBytes) \(summary.tokens)".write(toFile: path + ".expected", atomically: true, encoding: .utf8)
        return (path, summary.textBytes, summary.tokens)
    }

    @Test("generated TGI / LMI / JSON Lines files decode and parse to the generated text", arguments: [StreamFormat.tgi, .lmi, .jsonlines])
    func generatedFiles(format: StreamFormat) throws {
        let env = ProcessInfo.processInfo.environment
        let keep = env["SOUS_BENCH_STREAM_DIR"].map { URL(fileURLWithPath: $0) }
        let dir = try keep ?? TestPaths.makeTemporaryDirectory("sous-bench")
        defer { if keep == nil { try? FileManager.default.removeItem(at: dir) } }
        let mb = Double(env["SOUS_BENCH_STREAM_MB"] ?? "") ?? 2
        let file = try Self.makeFile(format, mb: mb, in: dir)
        var sink = StreamTextSink(format: format, fileDescriptor: nil, flushEachPart: false)
        let result = try EventStreamBenchmark.throughput(file: file.path, consume: { sink.write($0) }, finish: { sink.finish() })
        #expect(sink.errors.isEmpty, "\(sink.errors.prefix(3))")
        #expect(sink.textBytes == file.textBytes)
        #expect(format == .lmi || result.tokens == file.tokens)
        #expect(format == .jsonlines || sink.sawFinal)
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        var live = StreamTextSink(format: format, fileDescriptor: devNull, flushEachPart: true)
        let latency = try EventStreamBenchmark.latency(file: file.path, maxFrames: 20_000, consume: { live.write($0) })
        #expect(latency.samples > 0)
        print("bench \(format.rawValue): \(result); \(latency)")
        print(String(format: "SOUS_BENCH format=%@ file=%@ mb=%.1f mbps=%.1f cpumbps=%.1f p50us=%.2f p99us=%.2f tokens=%d", format.rawValue, file.path,
                     Double(result.fileBytes) / 1e6, result.megabytesPerSecond, result.megabytesPerCPUSecond, latency.p50Microseconds, latency.p99Microseconds, result.tokens))
    }
}
