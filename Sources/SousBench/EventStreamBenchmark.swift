public import Foundation
public import SousAWS

/// Writes an event-stream file of `PayloadPart` frames, cutting the bytes it is given into parts of
/// seeded random sizes (1...`maxPart`), as SageMaker cuts a container's output. For benchmarks and tests.
public struct EventStreamFileWriter {
    private let handle: FileHandle
    private var pending: [UInt8] = []
    private var out = Data()
    private var rng: UInt64
    private let maxPart: Int
    /// Frames written so far.
    public private(set) var frames = 0
    /// File bytes written so far.
    public private(set) var bytesWritten = 0

    /// Creates (truncates) `path`.
    public init(path: String, seed: UInt64 = 1, maxPart: Int = 256) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        rng = seed
        self.maxPart = max(1, maxPart)
    }

    private mutating func nextPartSize() -> Int {
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return 1 + Int(truncatingIfNeeded: (rng >> 33) % UInt64(maxPart))
    }

    /// Appends container output; whole parts are framed as they fill.
    public mutating func write(_ bytes: [UInt8]) throws {
        pending += bytes
        var i = 0
        while true {
            let n = nextPartSize()
            guard pending.count - i >= n else {
                // Put the size back by re-drawing later: keep the generator deterministic per call sequence.
                break
            }
            try frame(pending[i..<i + n])
            i += n
        }
        pending.removeFirst(i)
        if out.count >= 4 << 20 { try drain() }
    }

    /// Frames what is left and closes the file.
    public mutating func close(trailer: [EventStreamMessage] = []) throws {
        if !pending.isEmpty { try frame(pending[...]) }
        pending = []
        for m in trailer { out += try EventStreamEncoder.encode(m) }
        try drain()
        try handle.close()
    }

    private mutating func frame(_ part: ArraySlice<UInt8>) throws {
        let data = try EventStreamEncoder.encode(.event(type: "PayloadPart", payload: Data(part)))
        out += data
        frames += 1
        bytesWritten += data.count
    }

    private mutating func drain() throws {
        try handle.write(contentsOf: out)
        out.removeAll(keepingCapacity: true)
    }
}

/// Result of `EventStreamBenchmark` runs.
public struct StreamBenchmarkResult: Sendable, CustomStringConvertible {
    public var fileBytes: Int
    public var frames: Int
    public var payloadBytes: Int
    public var tokens: Int
    /// Wall-clock time.
    public var seconds: Double
    /// CPU time of the measuring thread (what the work cost, unaffected by other processes on the machine).
    public var cpuSeconds: Double
    /// Event-stream file bytes decoded and parsed per wall-clock second, in MB (10^6 bytes).
    public var megabytesPerSecond: Double { seconds > 0 ? Double(fileBytes) / 1e6 / seconds : 0 }
    /// Same per CPU second.
    public var megabytesPerCPUSecond: Double { cpuSeconds > 0 ? Double(fileBytes) / 1e6 / cpuSeconds : 0 }

    public var description: String {
        String(
            format: "%.1f MB in %.3f s (%.3f s CPU): %.1f MB/s, %.1f MB per CPU second (%d frames, %d tokens)",
            Double(fileBytes) / 1e6, seconds, cpuSeconds, megabytesPerSecond, megabytesPerCPUSecond, frames, tokens)
    }
}

/// Latency added by sous between a part's bytes arriving and its tokens being written.
public struct StreamLatencyResult: Sendable, CustomStringConvertible {
    public var samples: Int
    public var p50Microseconds: Double
    public var p99Microseconds: Double
    public var maxMicroseconds: Double

    public var description: String {
        String(format: "added latency per token: p50 %.2f µs, p99 %.2f µs, max %.1f µs (%d tokens)", p50Microseconds,
               p99Microseconds, maxMicroseconds, samples)
    }
}

/// Measures the event-stream decoder plus a payload consumer (`sous bench stream` passes SousStreaming's
/// `StreamTextSink`, the text writer `sous invoke` uses).
public enum EventStreamBenchmark {
    /// Decodes the whole file (read into memory first, not timed), fed in `readSize` slices; every
    /// `PayloadPart` payload goes to `consume`, which returns the tokens it wrote; `finish` ends the stream.
    /// - Throws: a file error, or `EventStreamError` when the file is not a valid event stream.
    public static func throughput(
        file path: String, readSize: Int = 1 << 20, consume: (UnsafeRawBufferPointer) -> Int, finish: () -> Int
    ) throws -> StreamBenchmarkResult {
        // Read (not mapped): page faults on a mapped file would be timed, and a socket's bytes arrive in memory.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var decoder = EventStreamDecoder()
        var frames = 0
        var payloadBytes = 0
        var tokens = 0
        let start = monotonicNanoseconds()
        let cpuStart = threadCPUNanoseconds()
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(any Error) -> Void in
            var off = 0
            while off < raw.count {
                let n = min(readSize, raw.count - off)
                try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[off..<off + n])) { f in
                    frames += 1
                    guard f.isPayloadPart else { return }
                    payloadBytes += f.payload.count
                    tokens += consume(f.payload)
                }
                off += n
            }
            try decoder.finish()
        }
        tokens += finish()
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        let cpuSeconds = Double(threadCPUNanoseconds() - cpuStart) / 1e9
        return StreamBenchmarkResult(
            fileBytes: data.count, frames: frames, payloadBytes: payloadBytes, tokens: tokens, seconds: seconds,
            cpuSeconds: cpuSeconds)
    }

    /// Feeds the file one frame at a time (each frame "arrives" alone) for up to `maxFrames` frames and
    /// records, for every token written, the time from handing the frame's bytes to the decoder until
    /// `consume` returned (the text written and flushed).
    public static func latency(
        file path: String, maxFrames: Int = 200_000, consume: (UnsafeRawBufferPointer) -> Int
    ) throws -> StreamLatencyResult {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        var decoder = EventStreamDecoder()
        var samples: [UInt64] = []
        samples.reserveCapacity(maxFrames)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(any Error) -> Void in
            var off = 0
            var frames = 0
            while off + 12 <= raw.count && frames < maxFrames {
                let total = Int(UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: off, as: UInt32.self)))
                guard total >= 16, off + total <= raw.count else { break }
                let t0 = monotonicNanoseconds()
                var written = 0
                try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[off..<off + total])) { f in
                    if f.isPayloadPart { written += consume(f.payload) }
                }
                let dt = monotonicNanoseconds() - t0
                for _ in 0..<written { samples.append(dt) }
                off += total
                frames += 1
            }
        }
        samples.sort()
        func pct(_ p: Double) -> Double {
            guard !samples.isEmpty else { return 0 }
            return Double(samples[min(samples.count - 1, Int(Double(samples.count) * p))]) / 1000
        }
        return StreamLatencyResult(
            samples: samples.count, p50Microseconds: pct(0.5), p99Microseconds: pct(0.99),
            maxMicroseconds: Double(samples.last ?? 0) / 1000)
    }

    static func threadCPUNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}


extension EventStreamBenchmark {
    /// Runs the SageMaker Runtime client's payload iterator — the code `sous invoke` consumes a response
    /// stream with — over `chunks` as the HTTP layer would hand them over: `payload` sees every payload,
    /// `arrived` is called after each arrival (the bytes of one chunk).
    public static func payloadArrivals(
        chunks: [Data], payload: (UnsafeRawBufferPointer) -> Void, arrived: () -> Void
    ) async throws {
        var parts = PayloadEventIterator(base: ArrayChunks(chunks: chunks), endpointName: "bench", requestId: nil)
        while try await parts.nextArrival(payload) { arrived() }
    }

    struct ArrayChunks: AsyncIteratorProtocol {
        var chunks: [Data]
        var index = 0
        mutating func next() async throws -> Data? {
            guard index < chunks.count else { return nil }
            defer { index += 1 }
            return chunks[index]
        }
    }
}
