import Dispatch
import Foundation

// Note: products are written `acc += a * b`, not `addProduct`: without an FMA target feature
// `addProduct` lowers to a libm fmaf call per lane.

/// How a weight element type is loaded and widened to Float inside the kernels.
protocol WeightFormat {
    static var byteSize: Int { get }
    static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float>
    static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float
    /// Whether `Kernels.matvec` loads eight weights with `loadPaired8` and multiplies them with x as
    /// `Kernels.pairX` lays it out.
    static var paired: Bool { get }
    /// Weights i..<i+8 with the even columns in the low half and the odd ones in the high half.
    static func loadPaired8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float>
}

extension WeightFormat {
    static var paired: Bool { false }
    static func loadPaired8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        let v = load8(p, i)
        return SIMD8(lowHalf: v.evenHalf, highHalf: v.oddHalf)
    }
}

enum F32Format: WeightFormat {
    static var byteSize: Int { 4 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
    }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)
    }
}

enum BF16Format: WeightFormat {
    static var byteSize: Int { 2 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        let h = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<UInt16>.self)
        return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: h) &<< 16, to: SIMD8<Float>.self)
    }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)) << 16)
    }
    static var paired: Bool { true }
    /// The eight weights read as four 32-bit words of two weights each: a bf16 value is the top half of a
    /// float's bits, so `word << 16` is the even column's float and `word & 0xffff0000` the odd one's. That is
    /// two integer operations per eight weights where `load8` widens 16-bit lanes with an unpack per four.
    @inline(__always) static func loadPaired8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        let words = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD4<UInt32>.self)
        return unsafeBitCast(SIMD8(lowHalf: words &<< 16, highHalf: words & 0xffff_0000), to: SIMD8<Float>.self)
    }
}

enum F16Format: WeightFormat {
    static var byteSize: Int { 2 }
    /// IEEE half → float with integer bit tricks (exact for normals, subnormals, inf and nan).
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        let h = SIMD8<UInt32>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<UInt16>.self))
        let sign = (h & 0x8000) &<< 16
        let mag = h & 0x7fff
        let scaled = unsafeBitCast(mag &<< 13, to: SIMD8<Float>.self) * 0x1p112
        var bits = unsafeBitCast(scaled, to: SIMD8<UInt32>.self)
        bits.replace(with: 0x7f80_0000 | ((mag & 0x3ff) &<< 13), where: mag .>= 0x7c00)
        return unsafeBitCast(bits | sign, to: SIMD8<Float>.self)
    }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        halfToFloat(p.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
    }
}

/// A row-major [rows, cols] weight matrix kept in its stored dtype.
struct WeightMatrix: @unchecked Sendable {
    // @unchecked: `data` points into read-only memory (a mapping or an owned buffer) kept alive by `owner`.
    let data: UnsafeRawPointer
    let dtype: TensorDType
    let rows: Int
    let cols: Int
    let owner: AnyObject

    init(_ t: TensorView) {
        data = t.data
        dtype = t.dtype
        rows = t.shape[0]
        cols = t.shape.count > 1 ? t.shape[1] : 1
        owner = t.file
    }

    init(data: UnsafeRawPointer, dtype: TensorDType, rows: Int, cols: Int, owner: AnyObject) {
        self.data = data
        self.dtype = dtype
        self.rows = rows
        self.cols = cols
        self.owner = owner
    }

    var byteCount: Int { rows * cols * dtype.byteSize }

    /// Row `r` widened into `out` (cols floats).
    func widenRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .f32: Kernels.widen(F32Format.self, data + r * cols * 4, cols, out)
        case .bf16: Kernels.widen(BF16Format.self, data + r * cols * 2, cols, out)
        case .f16: Kernels.widen(F16Format.self, data + r * cols * 2, cols, out)
        }
    }
}

/// A raw pointer wrapper that may cross into concurrentPerform's worker closures.
struct SendablePointer<T>: @unchecked Sendable {
    // @unchecked: each worker writes a disjoint range; the caller waits for all workers before reading.
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

/// Splits work across a fixed number of threads: the model's `WorkerPool` when it has one and is free,
/// else `DispatchQueue.concurrentPerform`.
struct Parallel: Sendable {
    let threads: Int
    var pool: WorkerPool? = nil

    /// Runs `body(chunk)` for chunk in 0..<n, on up to `threads` threads; serial when `n == 1`.
    @inline(__always)
    func run(_ n: Int, _ body: (Int) -> Void) {
        if n <= 1 || threads <= 1 {
            for i in 0..<n { body(i) }
        } else {
            withoutActuallyEscaping(body) { b in
                let box = UncheckedBox(b)
                if let pool, pool.run(n, { i in box.value(i) }) { return }
                DispatchQueue.concurrentPerform(iterations: n) { i in box.value(i) }
            }
        }
    }
}

/// `@unchecked Sendable` box for a non-escaping worker closure handed to concurrentPerform.
struct UncheckedBox<T>: @unchecked Sendable {
    // @unchecked: the closure only touches disjoint output ranges (see Parallel.run).
    let value: T
    init(_ value: T) { self.value = value }
}

/// What a matmul multiplies: x as [tokens, cols] with stride xStride and, for one token of a `paired` weight
/// format, `pairs` = x as `Kernels.pairX` lays it out (otherwise not read).
struct MatmulInput {
    let x: UnsafePointer<Float>
    let xStride: Int
    let tokens: Int
    let pairs: UnsafePointer<Float>
}

/// One matrix of a fused matmul: y[t · yStride + r] for its rows r, either stored or, with `accumulate`, added to
/// what y holds (a residual connection).
struct MatmulTarget {
    let w: WeightMatrix
    let y: UnsafeMutablePointer<Float>
    let yStride: Int
    var accumulate = false
}

enum Kernels {
    /// Multiply-adds below which a matmul or attention runs on one thread: a region costs a few microseconds of
    /// hand-off and waiting, as much as ~64 K multiply-adds from cache take one core (all of stories260K's
    /// decode step stays on the calling thread; every 15M matrix is above it).
    static let parallelThreshold = 1 << 16
    /// Work items per thread in a parallel region (dynamic load balancing).
    static let chunksPerThread = 4
    /// Row blocks per thread in a one-token matmul: few and large, because each block is read as four streams
    /// that the hardware prefetchers must pick up, yet more than one so a thread the scheduler holds back
    /// leaves work for the others.
    static let matvecChunksPerThread = 2

    static func widen<F: WeightFormat>(_: F.Type, _ p: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 8 <= n {
            UnsafeMutableRawPointer(out + i).storeBytes(of: F.load8(p, i), as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { out[i] = F.load1(p, i); i += 1 }
    }

    /// y_j[t, r] = Σ_c W_j[r, c] · x[t, c] for every target j (one to three: a layer's q/k/v, gate/up, o or down);
    /// x is [tokens, cols] with stride xStride. All targets share `cols`. Rows of all targets are split across
    /// threads together. The targets are separate arguments, not an array that every call would allocate.
    ///
    /// Every output is one canonical sum (see `dot`), whichever kernel, thread or block computes it, so results
    /// do not depend on the thread count or on whether a token is decoded alone or in a prompt.
    static func matmul(
        _ t0: MatmulTarget, _ t1: MatmulTarget? = nil, _ t2: MatmulTarget? = nil, x: UnsafePointer<Float>, xStride: Int,
        tokens: Int, parallel: Parallel
    ) {
        let cols = t0.w.cols
        let totalRows = t0.w.rows + (t1?.w.rows ?? 0) + (t2?.w.rows ?? 0)
        let work = totalRows * cols * tokens
        // Several chunks per thread: they are handed out dynamically, so when a worker is not scheduled
        // (a shared, loaded machine) the calling thread simply takes more of them.
        let perThread = tokens == 1 ? matvecChunksPerThread : chunksPerThread
        let chunks = work < parallelThreshold || parallel.threads == 1 ? 1 : parallel.threads * perThread
        let xs = SendablePointer(UnsafeMutablePointer(mutating: x))
        // x as `pairX` lays it out for the formats `matvec` reads in pairs, made once for every row and thread.
        let paired = tokens == 1 && (isPaired(t0.w.dtype) || isPaired(t1?.w.dtype) || isPaired(t2?.w.dtype))
        withUnsafeTemporaryAllocation(of: Float.self, capacity: paired ? cols : 0) { buffer in
            let pairs = SendablePointer(buffer.baseAddress ?? xs.p)
            if paired { pairX(x, cols, pairs.p) }
            parallel.run(chunks) { chunk in
                // Rows [lo, hi) of the concatenation, rounded to multiples of 4.
                let per = ((totalRows + chunks - 1) / chunks + 3) & ~3
                let lo = min(totalRows, chunk * per)
                let hi = min(totalRows, lo + per)
                let input = MatmulInput(x: xs.p, xStride: xStride, tokens: tokens, pairs: pairs.p)
                var base = part(t0, base: 0, lo, hi, input)
                if let t1 { base = part(t1, base: base, lo, hi, input) }
                if let t2 { _ = part(t2, base: base, lo, hi, input) }
            }
        }
    }

    @inline(__always)
    private static func isPaired(_ dtype: TensorDType?) -> Bool {
        switch dtype {
        case .f32: F32Format.paired
        case .bf16: BF16Format.paired
        case .f16: F16Format.paired
        case nil: false
        }
    }

    /// x's first `n & ~7` columns in blocks of 8, each stored as its even columns then its odd ones
    /// ([x0, x2, x4, x6, x1, x3, x5, x7]): the layout `matvec` multiplies `loadPaired8`'s weights with.
    static func pairX(_ x: UnsafePointer<Float>, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 8 <= n {
            let v = loadX(x, i)
            UnsafeMutableRawPointer(out + i).storeBytes(of: SIMD8(lowHalf: v.evenHalf, highHalf: v.oddHalf), as: SIMD8<Float>.self)
            i += 8
        }
    }

    /// The rows of target `t` (rows [base, base + t.w.rows) of the concatenation) inside [lo, hi); returns the
    /// next target's base.
    @inline(__always)
    private static func part(_ t: MatmulTarget, base: Int, _ lo: Int, _ hi: Int, _ input: MatmulInput) -> Int {
        let a = max(lo - base, 0)
        let b = min(hi - base, t.w.rows)
        if a < b { rows(t, a, b, input) }
        return base + t.w.rows
    }

    /// Rows [a, b) of target `t`.
    @inline(__always)
    static func rows(_ t: MatmulTarget, _ a: Int, _ b: Int, _ input: MatmulInput) {
        let x = input.x
        switch (t.w.dtype, input.tokens) {
        case (.f32, 1): matvec(F32Format.self, t, a, b, x, input.pairs)
        case (.bf16, 1): matvec(BF16Format.self, t, a, b, x, input.pairs)
        case (.f16, 1): matvec(F16Format.self, t, a, b, x, input.pairs)
        case (.f32, _): matmulRows(F32Format.self, t, a, b, x, input.xStride, input.tokens)
        case (.bf16, _): matmulRows(BF16Format.self, t, a, b, x, input.xStride, input.tokens)
        case (.f16, _): matmulRows(F16Format.self, t, a, b, x, input.xStride, input.tokens)
        }
    }

    /// One token: rows [a, b) as four streams a quarter of the range apart, one row of each at a time.
    ///
    /// Decoding is bound by memory bandwidth, and one core reads much faster from four independent sequential
    /// streams (in different pages, each followed by its own hardware prefetcher) than from one; four
    /// neighbouring rows read together are slower than one stream. The four rows also share the loads of x.
    ///
    /// A `paired` format's weights come from `loadPaired8` and multiply `pairs` (x as `pairX` lays it out; not
    /// read otherwise); the accumulators' lanes are put back in column order (`unpair`) before they are summed,
    /// so every format computes `dot`'s canonical sum.
    static func matvec<F: WeightFormat>(
        _: F.Type, _ t: MatmulTarget, _ a: Int, _ b: Int, _ x: UnsafePointer<Float>, _ pairs: UnsafePointer<Float>
    ) {
        let cols = t.w.cols
        let xr = F.paired ? pairs : x
        let body = cols & ~7
        let rowBytes = cols * F.byteSize
        let q = (b - a) / 4
        let y = t.y
        let add = t.accumulate
        for k in 0..<q {
            let r0 = a + k, r1 = r0 + q, r2 = r1 + q, r3 = r2 + q
            let w0 = t.w.data + r0 * rowBytes, w1 = t.w.data + r1 * rowBytes
            let w2 = t.w.data + r2 * rowBytes, w3 = t.w.data + r3 * rowBytes
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var i = 0
            while i < body {
                let xv = loadX(xr, i)
                if F.paired {
                    a0 += F.loadPaired8(w0, i) * xv
                    a1 += F.loadPaired8(w1, i) * xv
                    a2 += F.loadPaired8(w2, i) * xv
                    a3 += F.loadPaired8(w3, i) * xv
                } else {
                    a0 += F.load8(w0, i) * xv
                    a1 += F.load8(w1, i) * xv
                    a2 += F.load8(w2, i) * xv
                    a3 += F.load8(w3, i) * xv
                }
                i += 8
            }
            var s = F.paired ? sum4(unpair(a0), unpair(a1), unpair(a2), unpair(a3)) : sum4(a0, a1, a2, a3)
            while i < cols {
                s += SIMD4(F.load1(w0, i), F.load1(w1, i), F.load1(w2, i), F.load1(w3, i)) * x[i]
                i += 1
            }
            if add { s += SIMD4(y[r0], y[r1], y[r2], y[r3]) }
            y[r0] = s[0]
            y[r1] = s[1]
            y[r2] = s[2]
            y[r3] = s[3]
        }
        for r in (a + 4 * q)..<b {
            let d = dot(F.self, t.w.data + r * rowBytes, x, cols)
            y[r] = add ? y[r] + d : d
        }
    }

    /// The column-order lanes of an accumulator in `pairX` order (even columns in the low half, odd in the high).
    @inline(__always)
    static func unpair(_ v: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8(v[0], v[4], v[1], v[5], v[2], v[6], v[3], v[7])
    }

    /// Several tokens (a prompt): each weight row is read once for four tokens at a time.
    static func matmulRows<F: WeightFormat>(
        _ f: F.Type, _ t: MatmulTarget, _ a: Int, _ b: Int, _ x: UnsafePointer<Float>, _ xStride: Int, _ tokens: Int
    ) {
        let cols = t.w.cols
        let rowBytes = cols * F.byteSize
        let y = t.y
        let ys = t.yStride
        let add = t.accumulate
        for r in a..<b {
            let w = t.w.data + r * rowBytes
            var tk = 0
            while tk + 4 <= tokens {
                let x0 = x + tk * xStride
                var d = dot4(f, w, x0, x0 + xStride, x0 + 2 * xStride, x0 + 3 * xStride, cols)
                if add { d += SIMD4(y[tk * ys + r], y[(tk + 1) * ys + r], y[(tk + 2) * ys + r], y[(tk + 3) * ys + r]) }
                y[tk * ys + r] = d[0]
                y[(tk + 1) * ys + r] = d[1]
                y[(tk + 2) * ys + r] = d[2]
                y[(tk + 3) * ys + r] = d[3]
                tk += 4
            }
            while tk < tokens {
                let d = dot(f, w, x + tk * xStride, cols)
                y[tk * ys + r] = add ? y[tk * ys + r] + d : d
                tk += 1
            }
        }
    }

    @inline(__always)
    static func loadX(_ x: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// The canonical sum of one output: Σ W[c]·x[c] with one 8-lane accumulator over the multiples of 8, its
    /// lanes reduced as `reduce8`, then the remaining columns added one by one. `matvec`, `dot4` and `sum4`
    /// compute exactly this, several outputs at a time.
    @inline(__always)
    static func dot<F: WeightFormat>(_: F.Type, _ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc += F.load8(w, i) * loadX(x, i)
            i += 8
        }
        var s = reduce8(acc)
        while i < n { s += F.load1(w, i) * x[i]; i += 1 }
        return s
    }

    /// The lanes of `a` summed as (l0 + l1) + (l2 + l3), where l = low half + high half (what `sum4` does per lane).
    @inline(__always)
    static func reduce8(_ a: SIMD8<Float>) -> Float {
        let l = a.lowHalf + a.highHalf
        return (l[0] + l[1]) + (l[2] + l[3])
    }

    /// Four canonical sums (see `dot`) that share the weight row: one per x.
    @inline(__always)
    static func dot4<F: WeightFormat>(
        _: F.Type, _ w: UnsafeRawPointer, _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
        _ x2: UnsafePointer<Float>, _ x3: UnsafePointer<Float>, _ n: Int
    ) -> SIMD4<Float> {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            let wv = F.load8(w, i)
            a0 += wv * loadX(x0, i)
            a1 += wv * loadX(x1, i)
            a2 += wv * loadX(x2, i)
            a3 += wv * loadX(x3, i)
            i += 8
        }
        var s = sum4(a0, a1, a2, a3)
        while i < n {
            s += SIMD4(repeating: F.load1(w, i)) * SIMD4(x0[i], x1[i], x2[i], x3[i])
            i += 1
        }
        return s
    }

    /// [reduce8(a0), reduce8(a1), reduce8(a2), reduce8(a3)] with a transposing tree of vector adds (no scalar chains).
    @inline(__always)
    static func sum4(_ a0: SIMD8<Float>, _ a1: SIMD8<Float>, _ a2: SIMD8<Float>, _ a3: SIMD8<Float>) -> SIMD4<Float> {
        let u = SIMD8(lowHalf: a0.lowHalf + a0.highHalf, highHalf: a1.lowHalf + a1.highHalf)
        let v = SIMD8(lowHalf: a2.lowHalf + a2.highHalf, highHalf: a3.lowHalf + a3.highHalf)
        let w = SIMD8(lowHalf: u.evenHalf + u.oddHalf, highHalf: v.evenHalf + v.oddHalf)
        return w.evenHalf + w.oddHalf
    }

    /// Attention scores: sc[j] = scale · (q · k_j) for j in 0..<len, key j at `k + j · stride` (hd floats).
    /// Four keys at a time share the q loads and reduce together.
    @inline(__always)
    static func scores(
        _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ stride: Int, _ len: Int, _ hd: Int, _ scale: Float,
        _ sc: UnsafeMutablePointer<Float>
    ) {
        var j = 0
        if hd % 8 == 0 {
            let s4 = SIMD4<Float>(repeating: scale)
            while j + 4 <= len {
                let k0 = k + j * stride
                let k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride
                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                var d = 0
                while d < hd {
                    let qv = loadX(q, d)
                    a0 += qv * loadX(k0, d)
                    a1 += qv * loadX(k1, d)
                    a2 += qv * loadX(k2, d)
                    a3 += qv * loadX(k3, d)
                    d += 8
                }
                UnsafeMutableRawPointer(sc + j).storeBytes(of: sum4(a0, a1, a2, a3) * s4, as: SIMD4<Float>.self)
                j += 4
            }
        }
        while j < len {
            sc[j] = dotF(q, k + j * stride, hd) * scale
            j += 1
        }
    }

    /// Dot product of two f32 vectors.
    @inline(__always)
    static func dotF(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc += loadX(a, i) * loadX(b, i)
            i += 8
        }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// exp on 8 lanes (Cephes expf polynomial; relative error ~1e-7, inputs clamped to [-87.3, 88.7]).
    @inline(__always)
    static func exp8(_ v: SIMD8<Float>) -> SIMD8<Float> {
        var x0 = v
        x0.replace(with: -87.3, where: x0 .< -87.3)
        x0.replace(with: 88.7, where: x0 .> 88.7)
        // n = round(x·log2e) with the 1.5·2²³ trick (exact for |n| < 2²²; no float→int conversion needed).
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = x0 * 1.442_695_04 + magic
        let fx = shifted - magic
        let n = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let x = x0 - fx * 0.693_359_375 + fx * 2.121_944_4e-4
        let z = x * x
        var y = SIMD8<Float>(repeating: 1.987_569_15e-4)
        y = y * x + 1.398_199_950_7e-3
        y = y * x + 8.333_451_907_3e-3
        y = y * x + 4.166_579_589_4e-2
        y = y * x + 1.666_666_545_9e-1
        y = y * x + 5.000_000_120_1e-1
        y = y * z + x + 1
        let scale = unsafeBitCast((n &+ 127) &<< 23, to: SIMD8<Float>.self)
        return y * scale
    }

    /// In-place softmax of n scores, scaled by `1/Σ` (the probabilities sum to one).
    static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        var m8 = SIMD8<Float>(repeating: -.infinity)
        while i + 8 <= n {
            let v = loadX(x, i)
            m8.replace(with: v, where: v .> m8)
            i += 8
        }
        // Lanes reduced by hand: the generic `SIMD.max()` is a call with a scalar loop (the maximum is the same).
        var m4 = m8.lowHalf
        m4.replace(with: m8.highHalf, where: m8.highHalf .> m4)
        var maxValue = max(max(m4[0], m4[1]), max(m4[2], m4[3]))
        while i < n { maxValue = max(maxValue, x[i]); i += 1 }
        i = 0
        var sum8 = SIMD8<Float>()
        let mv = SIMD8<Float>(repeating: maxValue)
        while i + 8 <= n {
            let e = exp8(loadX(x, i) - mv)
            UnsafeMutableRawPointer(x + i).storeBytes(of: e, as: SIMD8<Float>.self)
            sum8 += e
            i += 8
        }
        var sum = sum8.sum()
        while i < n {
            let e = Foundation.exp(x[i] - maxValue)
            x[i] = e
            sum += e
            i += 1
        }
        let inv = 1 / sum
        let inv8 = SIMD8<Float>(repeating: inv)
        i = 0
        while i + 8 <= n {
            UnsafeMutableRawPointer(x + i).storeBytes(of: loadX(x, i) * inv8, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { x[i] *= inv; i += 1 }
    }

    /// hb = silu(hb) ⊙ hb2, in place.
    static func swiglu(_ g: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let gv = loadX(g, i)
            let r = gv / (1 + exp8(-gv)) * loadX(u, i)
            UnsafeMutableRawPointer(g + i).storeBytes(of: r, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            g[i] = g[i] / (1 + Foundation.exp(-g[i])) * u[i]
            i += 1
        }
    }

    /// out[0..<hd] = Σ_j p[j] · v[j·stride ..< j·stride + hd].
    ///
    /// Groups of 32 outputs go through the positions in blocks of 16, accumulating in registers in position
    /// order: a block's rows stay in L1 (4 KB for a 64-column head) from the first group to the last, so the
    /// values are read from memory front to back once. (One pass per 16 outputs over all positions read every
    /// fourth cache line of a 64-column head per pass and took ~1.5× as long from memory.) Outputs beyond the
    /// multiples of 32 (heads of 8 or 16 columns: stories260K) go through all positions in 8-lane groups with
    /// four positions in flight, so the adds do not form one dependency chain.
    static func weightedSum(
        _ p: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ stride: Int, _ len: Int, _ out: UnsafeMutablePointer<Float>, _ hd: Int
    ) {
        let wide = hd & ~31
        out.update(repeating: 0, count: wide)
        var j0 = 0
        while j0 < len && wide > 0 {
            let j1 = min(len, j0 + 16)
            var b = 0
            while b < wide {
                var a0 = loadX(out, b), a1 = loadX(out, b + 8), a2 = loadX(out, b + 16), a3 = loadX(out, b + 24)
                var row = v + j0 * stride + b
                for j in j0..<j1 {
                    let w = SIMD8<Float>(repeating: p[j])
                    a0 += w * loadX(row, 0)
                    a1 += w * loadX(row, 8)
                    a2 += w * loadX(row, 16)
                    a3 += w * loadX(row, 24)
                    row += stride
                }
                UnsafeMutableRawPointer(out + b).storeBytes(of: a0, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(out + b + 8).storeBytes(of: a1, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(out + b + 16).storeBytes(of: a2, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(out + b + 24).storeBytes(of: a3, as: SIMD8<Float>.self)
                b += 32
            }
            j0 = j1
        }
        var b = wide
        while b + 8 <= hd {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var row = v + b
            var j = 0
            while j + 4 <= len {
                a0 += SIMD8<Float>(repeating: p[j]) * loadX(row, 0)
                a1 += SIMD8<Float>(repeating: p[j + 1]) * loadX(row + stride, 0)
                a2 += SIMD8<Float>(repeating: p[j + 2]) * loadX(row + 2 * stride, 0)
                a3 += SIMD8<Float>(repeating: p[j + 3]) * loadX(row + 3 * stride, 0)
                row += 4 * stride
                j += 4
            }
            while j < len {
                a0 += SIMD8<Float>(repeating: p[j]) * loadX(row, 0)
                row += stride
                j += 1
            }
            UnsafeMutableRawPointer(out + b).storeBytes(of: (a0 + a1) + (a2 + a3), as: SIMD8<Float>.self)
            b += 8
        }
        while b < hd {
            var a: Float = 0
            for j in 0..<len { a += p[j] * v[j * stride + b] }
            out[b] = a
            b += 1
        }
    }

    /// out = x / sqrt(mean(x²) + eps) · weight (Hugging Face LlamaRMSNorm, computed in f32).
    static func rmsNorm(
        _ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int, _ eps: Float
    ) {
        let ss = dotF(x, x, n) / Float(n)
        let scale = 1 / (ss + eps).squareRoot()
        for i in 0..<n { out[i] = weight[i] * (x[i] * scale) }
    }
}
