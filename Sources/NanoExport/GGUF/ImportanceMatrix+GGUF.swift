import Foundation
import NanoCheckpoint
import NanoQuant
import NanoTensor

/// Writing an `ImportanceMatrix` as llama.cpp's GGUF imatrix file, the format `llama-imatrix`
/// writes by default and `llama-quantize --imatrix` reads (see `ImportanceMatrix+Files.swift`).
extension ImportanceMatrix {
    /// A `GGUFWriter` holding this matrix as `IMatrixCollector::save_imatrix` lays it out:
    /// `general.type`, `imatrix.datasets`, `imatrix.chunk_count`, `imatrix.chunk_size`, then per
    /// tensor in name order `NAME.in_sum2` F32 [matrices, columns] and `NAME.counts` F32
    /// [matrices, 1]. A legacy (.dat) matrix's pre-divided sums have no GGUF form: it is refused.
    public func ggufWriter(path: String = "<imatrix>") throws -> GGUFWriter {
        guard !isLegacy else {
            throw CheckpointError.writeFailed(file: path, reason: "a matrix read from a legacy .dat file holds pre-divided sums, not the raw sums GGUF stores")
        }
        guard let chunkCount = UInt32(exactly: chunkCount), let chunkSize = UInt32(exactly: chunkSize) else {
            throw CheckpointError.invalidConfig(file: path, field: Self.chunkCountKey, reason: "chunk count \(self.chunkCount) and size \(self.chunkSize) must fit UINT32")
        }
        var writer = GGUFWriter()
        writer.set("general.type", .string("imatrix"))
        writer.set(Self.datasetsKey, .array(.string, datasets.map { .string($0) }))
        writer.set(Self.chunkCountKey, .uint32(chunkCount))
        writer.set(Self.chunkSizeKey, .uint32(chunkSize))
        for name in names {
            let entry = entries[name]!
            let matrices = entry.counts.count
            guard matrices > 0, entry.sums.count == matrices * entry.columns else {
                throw CheckpointError.invalidTensor(file: path, tensor: name, reason: "\(entry.sums.count) sums for \(matrices) counts")
            }
            writer.addTensor(name + Self.ggufInSum2Suffix, Tensor(shape: [matrices, entry.columns], scalars: entry.sums), as: .f32)
            writer.addTensor(name + Self.ggufCountsSuffix, Tensor(shape: [matrices, 1], scalars: entry.counts.map { Float($0) }), as: .f32)
        }
        return writer
    }

    /// Writes the GGUF imatrix file atomically.
    public func writeGGUF(to path: String) throws {
        try ggufWriter(path: path).write(to: path)
    }
}
