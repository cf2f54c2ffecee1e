import Foundation
@testable import SousLLM
import Testing

@Suite("Llama runtime: matmul kernels")
struct KernelTests {
    /// A rows × cols matrix of finite values stored as `dtype` (f16 includes subnormals), and the storage it
    /// points into.
    static func matrix(_ dtype: TensorDType, rows: Int, cols: Int, seed: UInt64) -> (WeightMatrix, Data) {
        var rng = SplitMix64(seed: seed)
        var data = Data()
        for _ in 0..<(rows * cols) {
            let v = Float(rng.next() >> 40) / Float(1 << 23) - 1
            switch dtype {
            case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            case .bf16: withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian) { data.append(contentsOf: $0) }
            case .f16:
                // Sign, exponent 0...30 (0: subnormal; 31, inf and nan, left out), mantissa.
                let bits = UInt16(rng.next() % 2) << 15 | UInt16(rng.next() % 31) << 10 | UInt16(rng.next() % 1024)
                withUnsafeBytes(of: bits.littleEndian) { data.append(contentsOf: $0) }
            }
        }
        let owner = data as NSData
        return (WeightMatrix(data: owner.bytes, dtype: dtype, rows: rows, cols: cols, owner: owner), data)
    }

    /// The canonical sum `Kernels.dot` of row r with x.
    static func dot(_ m: WeightMatrix, _ r: Int, _ x: UnsafePointer<Float>) -> Float {
        let row = m.data + r * m.cols * m.dtype.byteSize
        switch m.dtype {
        case .f32: return Kernels.dot(F32Format.self, row, x, m.cols)
        case .bf16: return Kernels.dot(BF16Format.self, row, x, m.cols)
        case .f16: return Kernels.dot(F16Format.self, row, x, m.cols)
        }
    }

    /// One token's input to `Kernels.rows`, with `pairs` filled as `Kernels.matmul` fills it.
    static func oneToken(_ x: UnsafePointer<Float>, _ cols: Int, _ pairs: UnsafeMutablePointer<Float>) -> MatmulInput {
        Kernels.pairX(x, cols, pairs)
        return MatmulInput(x: x, xStride: cols, tokens: 1, pairs: pairs)
    }

    /// The first (token · rows + row) index where y differs from `expected` in any bit.
    static func firstMismatch(_ y: UnsafePointer<Float>, _ expected: [Float]) -> Int? {
        expected.indices.first { y[$0].bitPattern != expected[$0].bitPattern }
    }

    @Test(
        "one token (four row streams), a prompt (four tokens per row) and the plain dot product agree bit for bit, for any row split",
        arguments: [TensorDType.f32, .bf16, .f16])
    func kernelsAgree(dtype: TensorDType) {
        // 37 rows (not a multiple of 4) of 172 columns (not a multiple of 8): every remainder path runs.
        let rows = 37, cols = 172, tokens = 5
        let (m, storage) = Self.matrix(dtype, rows: rows, cols: cols, seed: 7)
        defer { withExtendedLifetime(storage) {} }
        var rng = SplitMix64(seed: 11)
        let x = (0..<(tokens * cols)).map { _ in Float(rng.next() >> 40) / Float(1 << 24) - 0.5 }
        let start = (0..<(tokens * rows)).map { Float($0 % 13) - 6 }
        x.withUnsafeBufferPointer { xb in
            let x = xb.baseAddress!
            var want = [Float](repeating: 0, count: tokens * rows)
            for t in 0..<tokens { for r in 0..<rows { want[t * rows + r] = Self.dot(m, r, x + t * cols) } }
            let y = UnsafeMutablePointer<Float>.allocate(capacity: tokens * rows)
            let pairs = UnsafeMutablePointer<Float>.allocate(capacity: cols)
            defer {
                y.deallocate()
                pairs.deallocate()
            }
            for accumulate in [false, true] {
                let expected = accumulate ? zip(start, want).map { $0 + $1 } : want
                for splits in [[0, rows], [0, 1, rows], [0, 9, 10, 30, rows], [0, 17, 18, 19, rows]] {
                    // Decode: each token alone, the rows in blocks as threads would take them.
                    y.update(from: start, count: tokens * rows)
                    for t in 0..<tokens {
                        let target = MatmulTarget(w: m, y: y + t * rows, yStride: rows, accumulate: accumulate)
                        let input = Self.oneToken(x + t * cols, cols, pairs)
                        for (a, b) in zip(splits, splits.dropFirst()) { Kernels.rows(target, a, b, input) }
                    }
                    #expect(Self.firstMismatch(y, expected) == nil, "decode, accumulate \(accumulate), splits \(splits)")
                    // Prefill: all tokens at once.
                    y.update(from: start, count: tokens * rows)
                    let target = MatmulTarget(w: m, y: y, yStride: rows, accumulate: accumulate)
                    let input = MatmulInput(x: x, xStride: cols, tokens: tokens, pairs: pairs)
                    for (a, b) in zip(splits, splits.dropFirst()) { Kernels.rows(target, a, b, input) }
                    #expect(Self.firstMismatch(y, expected) == nil, "prefill, accumulate \(accumulate), splits \(splits)")
                }
            }
        }
    }

    @Test(
        "a one-token matmul on one and two threads matches the plain row-by-column sum in Double, at sizes that are not multiples of the blocks",
        arguments: [TensorDType.f32, .bf16, .f16], [(rows: 7, cols: 13), (rows: 37, cols: 172), (rows: 66, cols: 1003), (rows: 3, cols: 8)])
    func matvecMatchesScalar(dtype: TensorDType, shape: (rows: Int, cols: Int)) {
        let (rows, cols) = shape
        let (m, storage) = Self.matrix(dtype, rows: rows, cols: cols, seed: 19)
        defer { withExtendedLifetime(storage) {} }
        var rng = SplitMix64(seed: 23)
        let x = (0..<cols).map { _ in Float(rng.next() >> 40) / Float(1 << 24) - 0.5 }
        // Each weight widened one at a time (the bit layout spelled out, not the kernels' loaders).
        func weight(_ r: Int, _ c: Int) -> Double {
            let p = m.data + (r * cols + c) * dtype.byteSize
            switch dtype {
            case .f32: return Double(p.loadUnaligned(as: Float.self))
            case .bf16: return Double(Float(bitPattern: UInt32(p.loadUnaligned(as: UInt16.self)) << 16))
            case .f16: return Double(Float(Float16(bitPattern: p.loadUnaligned(as: UInt16.self))))
            }
        }
        let want = (0..<rows).map { r in (0..<cols).reduce(0.0) { $0 + weight(r, $1) * Double(x[$1]) } }
        let bound = (0..<rows).map { r in (0..<cols).reduce(0.0) { $0 + abs(weight(r, $1) * Double(x[$1])) } }
        let pool = WorkerPool(workers: 1)
        defer { pool.shutdown() }
        for parallel in [Parallel(threads: 1), Parallel(threads: 2, pool: pool)] {
            var y = [Float](repeating: .nan, count: rows)
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    Kernels.matmul(
                        MatmulTarget(w: m, y: yb.baseAddress!, yStride: rows), x: xb.baseAddress!, xStride: cols, tokens: 1,
                        parallel: parallel)
                }
            }
            // Float sums of `cols` products: within a few ulps of the largest partial sum.
            let bad = (0..<rows).filter { abs(Double(y[$0]) - want[$0]) > 1e-6 * Double(cols) * bound[$0] + 1e-30 }
            #expect(bad.isEmpty, "\(dtype) \(rows)x\(cols) on \(parallel.threads) threads: rows \(bad) differ")
        }
    }

    @Test(
        "attention's weighted sum of value rows matches the plain sum in Double, for head sizes and lengths that are not multiples of the blocks",
        arguments: [8, 13, 40, 64, 72], [1, 15, 16, 17, 33])
    func weightedSumMatchesScalar(hd: Int, len: Int) {
        let stride = hd + 5
        var rng = SplitMix64(seed: UInt64(hd * 100 + len))
        let v = (0..<(len * stride)).map { _ in Float(rng.next() >> 40) / Float(1 << 23) - 1 }
        let p = (0..<len).map { _ in Float(rng.next() >> 40) / Float(1 << 24) }
        var out = [Float](repeating: .nan, count: hd)
        v.withUnsafeBufferPointer { vb in
            p.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { ob in
                    Kernels.weightedSum(pb.baseAddress!, vb.baseAddress!, stride, len, ob.baseAddress!, hd)
                }
            }
        }
        let bad = (0..<hd).filter { c in
            let want = (0..<len).reduce(0.0) { $0 + Double(p[$1]) * Double(v[$1 * stride + c]) }
            let bound = (0..<len).reduce(0.0) { $0 + abs(Double(p[$1]) * Double(v[$1 * stride + c])) }
            return abs(Double(out[c]) - want) > 1e-6 * Double(len) * bound + 1e-30
        }
        #expect(bad.isEmpty, "hd \(hd), len \(len): columns \(bad) differ")
    }
}
