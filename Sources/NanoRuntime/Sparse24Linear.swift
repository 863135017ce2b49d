import Foundation
import NanoTensor

/// A 2:4 kernel that skips the zeros: each weight row keeps only its non-zeros (at most 2 in
/// every 4 consecutive inputs) as (int8 code, UInt16 column) pairs, 3 bytes per kept weight
/// (0.75 byte per logical weight) plus the row's scale, and the product runs over them
/// alone: for a kept weight w at column c, out[:, r] += w · xᵀ[c, :], 16 input rows per SIMD
/// vector, 64 rows in registers. Half the multiply-adds of the dense product, but every one
/// needs its own load of xᵀ (the column differs per weight) where a dense GEMM reuses registers.
/// `bench runtime` measures it against the dense dequantize + sgemm path (docs/benchmarks.md).
public struct Sparse24Linear: Sendable {
    public let rows: Int
    public let columns: Int
    /// Kept weights of row r: entries start[r]..<start[r+1] of `values` / `indices`.
    let start: [Int]
    let codes: [Int8]
    let indices: [UInt16]
    let scales: [Float]

    /// nil unless `w` is symmetric per-row int8 and every group of 4 inputs in every row has at
    /// most 2 non-zero codes.
    public init?(_ w: PackedWeight) {
        guard w.storage == .int8, w.signed, w.offsets == nil, w.groupSize == w.columns,
              w.columns % 4 == 0, w.columns <= Int(UInt16.max) else { return nil }
        var start = [0], codes: [Int8] = [], indices: [UInt16] = []
        for r in 0..<w.rows {
            for g in stride(from: 0, to: w.columns, by: 4) {
                let kept = (g..<(g + 4)).filter { w.codes[r * w.columns + $0] != 0 }
                guard kept.count <= 2 else { return nil }
                for c in kept { codes.append(Int8(bitPattern: w.codes[r * w.columns + c])); indices.append(UInt16(c)) }
            }
            start.append(codes.count)
        }
        rows = w.rows; columns = w.columns
        self.start = start; self.codes = codes; self.indices = indices; self.scales = w.scales
    }

    /// x: [m, columns] → out [m, rows] (overwritten), + bias.
    public func forward(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let tile = 64, tiles = (m + tile - 1) / tile
        // xᵀ, zero-padded to whole tiles: row c holds input column c of every input row.
        let padded = tiles * tile
        let xt = UnsafeMutablePointer<Float>.allocate(capacity: columns * padded)
        defer { xt.deallocate() }
        xt.initialize(repeating: 0, count: columns * padded)
        for i in 0..<m { for c in 0..<columns { xt[c * padded + i] = x[i * columns + c] } }
        let workers = max(1, min(Parallel.workers, rows / 16))
        codes.withUnsafeBufferPointer { v in
            indices.withUnsafeBufferPointer { idx in
                let work = { (worker: Int) in
                    let lo = rows * worker / workers, hi = rows * (worker + 1) / workers
                    for t in 0..<tiles {
                        let base = UnsafeRawPointer(xt + t * tile)
                        for r in lo..<hi {
                            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                            for e in start[r]..<start[r + 1] {
                                let w = SIMD16<Float>(repeating: Float(v[e]))
                                let p = base + Int(idx[e]) * padded * 4
                                a0 = a0 + w * p.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)
                                a1 = a1 + w * p.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                                a2 = a2 + w * p.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
                                a3 = a3 + w * p.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
                            }
                            let (b, s) = (bias?[r] ?? 0, scales[r])
                            for j in 0..<min(tile, m - t * tile) {
                                let a = j < 16 ? a0[j] : j < 32 ? a1[j - 16] : j < 48 ? a2[j - 32] : a3[j - 48]
                                out[(t * tile + j) * rows + r] = a * s + b
                            }
                        }
                    }
                }
                if workers == 1 { work(0) } else { Parallel.perform(iterations: workers, work) }
            }
        }
    }
}
