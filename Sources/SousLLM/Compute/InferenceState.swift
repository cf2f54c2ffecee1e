import Foundation

/// Activations and KV cache for one sequence; not shared between threads.
package final class InferenceState {
    let model: LlamaModel
    let config: LlamaConfig
    let capacity: Int
    /// Tokens processed so far (the next position).
    private(set) var position = 0
    let chunk: Int
    let parallel: Parallel

    // [chunk, dim] etc.
    let x: UnsafeMutablePointer<Float>
    let xb: UnsafeMutablePointer<Float>
    let q: UnsafeMutablePointer<Float>
    let att: UnsafeMutablePointer<Float>
    let hb: UnsafeMutablePointer<Float>
    let hb2: UnsafeMutablePointer<Float>
    let logits: UnsafeMutablePointer<Float>
    /// Attention scores, one row of `capacity` per (thread slot).
    let scores: UnsafeMutablePointer<Float>
    let cosTable: UnsafeMutablePointer<Float>
    let sinTable: UnsafeMutablePointer<Float>
    /// [layer][kvHead][capacity][headDim]: a head's keys (values) of all positions are one contiguous block,
    /// which attention reads front to back.
    let keyCache: UnsafeMutablePointer<Float>
    let valueCache: UnsafeMutablePointer<Float>
    /// The chunk's new keys and values, [chunk, kvDim], as the matmul writes them before they go into the caches.
    let newKeys: UnsafeMutablePointer<Float>
    let newValues: UnsafeMutablePointer<Float>
    let invFreq: [Float]
    private var allocations: [UnsafeMutablePointer<Float>] = []

    package init(model: LlamaModel, capacity requested: Int, chunk: Int = 32) throws {
        self.model = model
        let c = model.config
        config = c
        guard requested <= c.maxPositionEmbeddings else {
            throw LLMError.contextOverflow(promptTokens: requested, contextLength: c.maxPositionEmbeddings)
        }
        capacity = max(requested, 1)
        self.chunk = chunk
        parallel = Parallel(threads: model.threads, pool: model.pool)
        let qDim = c.numHeads * c.headDim
        let kvDim = c.numKVHeads * c.headDim
        var allocs: [UnsafeMutablePointer<Float>] = []
        // The KV cache and score rows are always written before they are read, so they stay uninitialised
        // (no page is touched for context that is never used).
        func alloc(_ n: Int, zeroed: Bool = true) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            if zeroed { p.initialize(repeating: 0, count: max(n, 1)) }
            allocs.append(p)
            return p
        }
        x = alloc(chunk * c.hiddenSize)
        xb = alloc(chunk * max(c.hiddenSize, qDim))
        q = alloc(chunk * qDim)
        att = alloc(chunk * qDim)
        hb = alloc(chunk * c.intermediateSize)
        hb2 = alloc(chunk * c.intermediateSize)
        logits = alloc(c.vocabSize)
        scores = alloc(c.numHeads * chunk * capacity, zeroed: false)
        cosTable = alloc(chunk * c.headDim / 2)
        sinTable = alloc(chunk * c.headDim / 2)
        keyCache = alloc(c.numLayers * capacity * kvDim, zeroed: false)
        valueCache = alloc(c.numLayers * capacity * kvDim, zeroed: false)
        newKeys = alloc(chunk * kvDim)
        newValues = alloc(chunk * kvDim)
        allocations = allocs
        let half = c.headDim / 2
        invFreq = (0..<half).map { i in
            Float(1.0 / pow(Double(c.ropeTheta), Double(2 * i) / Double(c.headDim))) / c.ropeScalingFactor
        }
    }

    deinit { for p in allocations { p.deallocate() } }

    /// Runs `tokens` through the model at the next positions; returns the last token's logits when asked.
    @discardableResult
    package func forward(_ tokens: [Int], wantLogits: Bool) throws -> UnsafeMutablePointer<Float> {
        guard position + tokens.count <= capacity else {
            throw LLMError.contextOverflow(promptTokens: position + tokens.count, contextLength: capacity)
        }
        for t in tokens where t < 0 || t >= config.vocabSize {
            throw LLMError.invalidParameter("token id \(t) is outside the vocabulary of \(config.vocabSize)")
        }
        var start = 0
        while start < tokens.count {
            let n = min(chunk, tokens.count - start)
            let last = start + n == tokens.count
            forwardChunk(tokens[start..<(start + n)], computeLogits: wantLogits && last)
            start += n
        }
        return logits
    }

    private func forwardChunk(_ tokens: ArraySlice<Int>, computeLogits: Bool) {
        let c = config
        let dim = c.hiddenSize
        let hd = c.headDim
        let half = hd / 2
        let qDim = c.numHeads * hd
        let kvDim = c.numKVHeads * hd
        let inter = c.intermediateSize
        let n = tokens.count
        let pos0 = position
        let m = model

        for (t, id) in tokens.enumerated() { m.embedding.widenRow(id, into: x + t * dim) }
        for t in 0..<n {
            let p = Float(pos0 + t)
            for i in 0..<half {
                let a = p * invFreq[i]
                cosTable[t * half + i] = cos(a)
                sinTable[t * half + i] = sin(a)
            }
        }
        let scale = 1 / Float(hd).squareRoot()
        let group = c.numHeads / c.numKVHeads

        for (l, w) in m.layers.enumerated() {
            for t in 0..<n { Kernels.rmsNorm(x + t * dim, w.attnNorm.p, xb + t * dim, dim, c.rmsNormEps) }
            let kc = keyCache + l * capacity * kvDim
            let vc = valueCache + l * capacity * kvDim
            Kernels.matmul(
                MatmulTarget(w: w.q, y: q, yStride: qDim), MatmulTarget(w: w.k, y: newKeys, yStride: kvDim),
                MatmulTarget(w: w.v, y: newValues, yStride: kvDim), x: xb, xStride: dim, tokens: n, parallel: parallel)
            // The new keys and values into their heads' blocks; RoPE (rotate_half layout) on q and the keys.
            for t in 0..<n {
                let cs = cosTable + t * half
                let sn = sinTable + t * half
                for h in 0..<c.numHeads { InferenceState.rope(q + t * qDim + h * hd, cs, sn, half) }
                for h in 0..<c.numKVHeads {
                    let slot = (h * capacity + pos0 + t) * hd
                    (kc + slot).update(from: newKeys + t * kvDim + h * hd, count: hd)
                    (vc + slot).update(from: newValues + t * kvDim + h * hd, count: hd)
                    InferenceState.rope(kc + slot, cs, sn, half)
                }
            }
            // Causal attention with grouped KV heads.
            let work = n * c.numHeads * (pos0 + n) * hd
            let slots = work < Kernels.parallelThreshold || parallel.threads == 1 ? 1 : min(n * c.numHeads, parallel.threads * Kernels.chunksPerThread)
            let qp = SendablePointer(q), ap = SendablePointer(att), sp = SendablePointer(scores)
            let kcp = SendablePointer(kc), vcp = SendablePointer(vc)
            let capacity = self.capacity
            parallel.run(slots) { slot in
                var item = slot
                while item < n * c.numHeads {
                    let t = item / c.numHeads
                    let h = item % c.numHeads
                    let kvh = h / group
                    let len = pos0 + t + 1
                    let qv = qp.p + t * qDim + h * hd
                    let sc = sp.p + item * capacity
                    Kernels.scores(qv, kcp.p + kvh * capacity * hd, hd, len, hd, scale, sc)
                    Kernels.softmax(sc, len)
                    Kernels.weightedSum(sc, vcp.p + kvh * capacity * hd, hd, len, ap.p + t * qDim + h * hd, hd)
                    item += slots
                }
            }
            // x += o · att and, below, x += down · h: the residual adds happen as the rows are written.
            Kernels.matmul(
                MatmulTarget(w: w.o, y: x, yStride: dim, accumulate: true), x: att, xStride: qDim, tokens: n, parallel: parallel)
            for t in 0..<n { Kernels.rmsNorm(x + t * dim, w.ffnNorm.p, xb + t * dim, dim, c.rmsNormEps) }
            Kernels.matmul(
                MatmulTarget(w: w.gate, y: hb, yStride: inter), MatmulTarget(w: w.up, y: hb2, yStride: inter),
                x: xb, xStride: dim, tokens: n, parallel: parallel)
            Kernels.swiglu(hb, hb2, n * inter)
            Kernels.matmul(
                MatmulTarget(w: w.down, y: x, yStride: dim, accumulate: true), x: hb, xStride: inter, tokens: n, parallel: parallel)
        }
        position += n
        if computeLogits {
            let lastRow = x + (n - 1) * dim
            Kernels.rmsNorm(lastRow, m.finalNorm.p, xb, dim, c.rmsNormEps)
            Kernels.matmul(MatmulTarget(w: m.lmHead, y: logits, yStride: c.vocabSize), x: xb, xStride: dim, tokens: 1, parallel: parallel)
        }
    }

    /// Hugging Face rotate_half RoPE on one head: (x1, x2) → (x1·cos − x2·sin, x2·cos + x1·sin).
    @inline(__always)
    static func rope(_ v: UnsafeMutablePointer<Float>, _ cs: UnsafePointer<Float>, _ sn: UnsafePointer<Float>, _ half: Int) {
        for i in 0..<half {
            let a = v[i]
            let b = v[i + half]
            v[i] = a * cs[i] - b * sn[i]
            v[i + half] = b * cs[i] + a * sn[i]
        }
    }
}
