import Foundation
import SousLLM
import SousTestSupport
import Testing

@testable import SousAWS

/// The pieces `sous bench stream` wires together, checked for correctness on small generated files.
/// With SOUS_BENCH_STREAM_MB=100 (and `swift test -c release`), it also prints the throughput and latency.
@Suite("Stream benchmark plumbing")
struct RuntimeBenchmarkTests {
    static func makeFile(_ format: StreamFormat, mb: Double, in dir: URL) throws -> (path: String, textBytes: Int, tokens: Int) {
        let path = dir.appendingPathComponent("bench-\(format.rawValue).es").path
        var writer = try EventStreamFileWriter(path: path, seed: 7, maxPart: 256)
        let summary = try SyntheticStream.generate(format: format, approximateBytes: Int(mb * 1_000_000), seed: 3) {
            try writer.write($0)
        }
        try writer.close()
        return (path, summary.textBytes, summary.tokens)
    }

    @Test("generated TGI / LMI / JSON Lines files decode and parse to the generated text", arguments: [StreamFormat.tgi, .lmi, .jsonlines])
    func generatedFiles(format: StreamFormat) throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-bench")
        defer { try? FileManager.default.removeItem(at: dir) }
        let mb = Double(ProcessInfo.processInfo.environment["SOUS_BENCH_STREAM_MB"] ?? "") ?? 1
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
    }
}
