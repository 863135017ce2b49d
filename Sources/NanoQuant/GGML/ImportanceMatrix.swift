import Foundation
import NanoTensor

/// llama.cpp's importance matrix ("imatrix"): per weight tensor, the sum over calibration tokens
/// of each input column's squared activation, and the number of tokens summed, collected as
/// `llama-imatrix` does (`IMatrixCollector::collect_imatrix`: `acc[j] += x[j]·x[j]` for every
/// activation row x entering the tensor's matrix product). `importance(for:)` turns an entry into
/// the per-column weights `llama-quantize --imatrix` hands to `ggml_quantize_chunk` (the mean
/// x², `GGUFBlockEncoder.encode(importance:)`).
///
/// Keys are the weight tensors' names as the imatrix file spells them (llama.cpp's GGUF names,
/// "blk.0.attn_q.weight"). A tensor of several matrices (merged MoE experts) has one run of sums
/// and one count per matrix. Files: `ImportanceMatrix+Files.swift` (llama.cpp's GGUF imatrix and
/// legacy `.dat` formats).
public struct ImportanceMatrix: Equatable, Sendable {
    /// One tensor's statistics.
    public struct Entry: Equatable, Sendable {
        /// Σ x² per input column, matrix after matrix: `counts.count` runs of `columns` values.
        public var sums: [Float]
        /// Activation rows (tokens) summed, one per matrix.
        public var counts: [Int]

        public init(sums: [Float], counts: [Int]) {
            self.sums = sums
            self.counts = counts
        }

        /// Input columns of one matrix.
        public var columns: Int { counts.isEmpty ? 0 : sums.count / counts.count }
    }

    public var entries: [String: Entry]
    /// The calibration data sets named in the file (`imatrix.datasets`).
    public var datasets: [String]
    /// Chunks of `chunkSize` tokens the statistics were computed on (`imatrix.chunk_count`).
    public var chunkCount: Int
    /// Tokens per chunk (`imatrix.chunk_size`: llama-imatrix's context / parallel sequences).
    public var chunkSize: Int
    /// Read from llama.cpp's legacy `.dat` format, whose sums are stored pre-divided:
    /// (Σx² / tokens)·ncall with `counts` = [ncall]. `importance(for:)` reads either form.
    public var isLegacy: Bool

    public init(entries: [String: Entry] = [:], datasets: [String] = [], chunkCount: Int = 0, chunkSize: Int = 0,
                isLegacy: Bool = false) {
        self.entries = entries
        self.datasets = datasets
        self.chunkCount = chunkCount
        self.chunkSize = chunkSize
        self.isLegacy = isLegacy
    }

    /// The tensor names, sorted (llama-imatrix's file order).
    public var names: [String] { entries.keys.sorted() }

    /// The per-column weights of `tensor`'s matrix `matrix` as `llama-quantize` computes them
    /// (tools/quantize/quantize.cpp `load_imatrix`): sums / count, or 1 for every column of a
    /// matrix no token reached; for a legacy file sums / ncall (the sums as they are if ncall is
    /// 0). nil when the tensor has no entry.
    public func importance(for tensor: String, matrix: Int = 0) -> [Float]? {
        guard let entry = entries[tensor], matrix >= 0, matrix < entry.counts.count else { return nil }
        let n = entry.columns, run = entry.sums[(matrix * n)..<((matrix + 1) * n)]
        if isLegacy {
            let ncall = entry.counts[0]
            return ncall > 0 ? run.map { $0 / Float(ncall) } : Array(run)
        }
        let count = Float(entry.counts[matrix])
        return count > 0 ? run.map { $0 / count } : [Float](repeating: 1, count: n)
    }

    /// Adds activation rows entering `tensor`'s matrix product (one matrix): `activations` of any
    /// rank whose last extent is the tensor's input width, each row a token. The first call for
    /// a tensor creates its entry; later ones must have the same width. Non-finite activations are
    /// refused (llama-imatrix stops on them), leaving the matrix unchanged.
    public mutating func accumulate(_ tensor: String, activations: Tensor) throws {
        guard let columns = activations.shape.last, columns > 0 else {
            throw ImportanceMatrixError.badActivations(tensor: tensor, reason: "activations of shape \(activations.shape) have no input columns")
        }
        try activations.scalars.withUnsafeBufferPointer { try accumulate(tensor, rows: $0, columns: columns) }
    }

    /// `accumulate` of `rows.count / columns` rows of `columns` values.
    public mutating func accumulate(_ tensor: String, rows: UnsafeBufferPointer<Float>, columns: Int) throws {
        guard columns > 0, rows.count % columns == 0 else {
            throw ImportanceMatrixError.badActivations(tensor: tensor, reason: "\(rows.count) values are not whole rows of \(columns)")
        }
        guard !isLegacy else {
            throw ImportanceMatrixError.badActivations(tensor: tensor, reason: "a legacy (.dat) matrix holds pre-divided sums and cannot accumulate rows")
        }
        var entry = entries[tensor] ?? Entry(sums: [Float](repeating: 0, count: columns), counts: [0])
        guard entry.counts.count == 1, entry.columns == columns else {
            throw ImportanceMatrixError.badActivations(tensor: tensor, reason:
                "rows of \(columns) columns for an entry of \(entry.counts.count) matrices of \(entry.columns) columns")
        }
        let tokens = rows.count / columns
        guard tokens > 0 else { return }
        entry.sums.withUnsafeMutableBufferPointer { acc in
            // Row after row, as llama-imatrix adds them, so the Float32 sums round alike.
            for t in 0..<tokens {
                let x = rows.baseAddress! + t * columns
                for j in 0..<columns { acc[j] += x[j] * x[j] }
            }
        }
        if let bad = entry.sums.firstIndex(where: { !$0.isFinite }) {
            throw ImportanceMatrixError.badActivations(tensor: tensor, reason: "the sum of squares of column \(bad) is not finite")
        }
        entry.counts[0] += tokens
        entries[tensor] = entry
    }
}

/// A calibration input that cannot enter an importance matrix.
public enum ImportanceMatrixError: Error, Equatable, CustomStringConvertible {
    case badActivations(tensor: String, reason: String)

    public var description: String {
        switch self {
        case .badActivations(let tensor, let reason): return "importance matrix entry '\(tensor)': \(reason)"
        }
    }
}
