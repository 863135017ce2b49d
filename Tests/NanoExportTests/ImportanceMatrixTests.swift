import Foundation
import Testing
import NanoCheckpoint
import NanoExport
import NanoQuant
import NanoTensor
import TestSupport

/// `ImportanceMatrix`: the statistics llama-imatrix collects (Σx² per input column, tokens), the
/// weights llama-quantize derives from them, and llama.cpp's GGUF and legacy `.dat` files —
/// round trips here, and against the pinned llama.cpp's own `llama-imatrix` (loader and writer)
/// when scripts/interop/build_llama_cpp.sh has built it into .cache/tools/llama.cpp.
@Suite struct ImportanceMatrixTests {
    static let llamaImatrix = RepositoryPaths.cache("tools/llama.cpp/bin/llama-imatrix")
    static let model = RepositoryPaths.cache("models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    static var hasLlamaImatrix: Bool { FileManager.default.isExecutableFile(atPath: llamaImatrix) }

    /// A matrix of two dense tensors and a 3-matrix (MoE-like) one, chunk bookkeeping as
    /// llama-imatrix keeps it (chunk size 512 is what llama-imatrix sets when it only merges files).
    static func sample() throws -> ImportanceMatrix {
        var rng = RandomGenerator(seed: 31)
        var m = ImportanceMatrix(datasets: ["calibration.txt"], chunkSize: 512)
        for (name, columns, tokens) in [("blk.0.attn_q.weight", 64, 700), ("blk.0.ffn_down.weight", 96, 1100)] {
            let x = Tensor(shape: [tokens, columns], scalars: (0..<(tokens * columns)).map { _ in rng.nextNormal() * 3 })
            try m.accumulate(name, activations: x)
        }
        m.entries["blk.0.ffn_up_exps.weight"] = .init(sums: (0..<96).map { Float($0) * 0.25 }, counts: [600, 0, 1300])
        m.chunkCount = 1300 / 512
        return m
    }

    @Test func accumulateSumsSquaresPerColumnAndCountsTokens() throws {
        var rng = RandomGenerator(seed: 3)
        let columns = 37
        let a = (0..<(5 * columns)).map { _ in rng.nextNormal() }, b = (0..<(2 * 3 * columns)).map { _ in rng.nextNormal() * 10 }
        var m = ImportanceMatrix()
        try m.accumulate("w", activations: Tensor(shape: [5, columns], scalars: a))
        try m.accumulate("w", activations: Tensor(shape: [2, 3, columns], scalars: b))   // [batch, tokens, columns]
        var expected = [Float](repeating: 0, count: columns)
        let all = a + b
        for row in stride(from: 0, to: all.count, by: columns) {
            for j in 0..<columns { expected[j] += all[row + j] * all[row + j] }
        }
        let entry = try #require(m.entries["w"])
        #expect(entry.counts == [11] && entry.sums == expected)
        let importance = try #require(m.importance(for: "w"))
        #expect(importance == expected.map { $0 / 11 })
        #expect(m.importance(for: "other") == nil)
    }

    @Test func badActivationsAreRefusedAndLeaveTheMatrixUnchanged() throws {
        var m = ImportanceMatrix()
        try m.accumulate("w", activations: Tensor(shape: [2, 4], scalars: [1, 2, 3, 4, 5, 6, 7, 8]))
        let before = m
        #expect(throws: ImportanceMatrixError.self) { try m.accumulate("w", activations: Tensor(shape: [1, 3], scalars: [1, 2, 3])) }
        #expect(throws: ImportanceMatrixError.self) { try m.accumulate("w", activations: Tensor(shape: [1, 4], scalars: [1, .nan, 3, 4])) }
        #expect(throws: ImportanceMatrixError.self) { try m.accumulate("w", activations: Tensor(shape: [1, 4], scalars: [1, 3e30, 3, 4])) }
        #expect(m == before)
    }

    /// llama-quantize's weights: sums / count per matrix, 1 for a matrix no token reached.
    @Test func importanceOfAMatrixNoTokenReachedIsOne() throws {
        let m = try Self.sample()
        #expect(m.importance(for: "blk.0.ffn_up_exps.weight", matrix: 0) == (0..<32).map { Float($0) * 0.25 / 600 })
        #expect(m.importance(for: "blk.0.ffn_up_exps.weight", matrix: 1) == [Float](repeating: 1, count: 32))
        #expect(m.importance(for: "blk.0.ffn_up_exps.weight", matrix: 2) == (64..<96).map { Float($0) * 0.25 / 1300 })
        #expect(m.importance(for: "blk.0.ffn_up_exps.weight", matrix: 3) == nil)
    }

    @Test func ggufRoundTrip() throws {
        let m = try Self.sample()
        try withTemporaryDirectory { dir in
            let path = dir + "/imatrix.gguf"
            try m.writeGGUF(to: path)
            #expect(try ImportanceMatrix.read(path: path) == m)
            // The layout llama.cpp's loader expects.
            let file = try GGUFFile.read(path: path)
            #expect(file["general.type"]?.string == "imatrix")
            #expect(file[ImportanceMatrix.chunkSizeKey] == .uint32(512) && file[ImportanceMatrix.chunkCountKey] == .uint32(2))
            #expect(file.tensorInfo("blk.0.ffn_up_exps.weight.in_sum2")?.shape == [3, 32])
            #expect(file.tensorInfo("blk.0.ffn_up_exps.weight.counts")?.shape == [3, 1])
            #expect(file.tensorInfo("blk.0.attn_q.weight.in_sum2")?.shape == [1, 64])
        }
    }

    @Test func legacyRoundTripKeepsTheImportance() throws {
        let m = try Self.sample()
        let data = try m.legacyData()
        let legacy = try ImportanceMatrix(legacy: data, source: "m.dat")
        #expect(legacy.isLegacy && legacy.names == m.names && legacy.chunkCount == m.chunkCount && legacy.datasets == m.datasets)
        #expect(try legacy.legacyData() == data)
        for name in m.names {
            let ncall = legacy.entries[name]!.counts[0]
            #expect(ncall == (m.entries[name]!.counts.max()! + 511) / 512)
            // Stored (sums / count)·ncall, read back / ncall: the importance up to two roundings.
            for matrix in 0..<m.entries[name]!.counts.count where m.entries[name]!.counts[matrix] > 0 {
                let ours = m.importance(for: name, matrix: matrix)!
                let theirs = Array(legacy.entries[name]!.sums[(matrix * ours.count)..<((matrix + 1) * ours.count)]).map { $0 / Float(ncall) }
                for (a, b) in zip(ours, theirs) { #expect(abs(a - b) <= 2e-7 * abs(a)) }
            }
        }
    }

    @Test func damagedFilesAreTypedErrors() throws {
        let m = try Self.sample()
        let data = try m.legacyData()
        for cut in [2, 10, 40, 300] {
            #expect(throws: CheckpointError.self) { try ImportanceMatrix(legacy: data.prefix(cut), source: "cut.dat") }
        }
        #expect(throws: CheckpointError.self) { try ImportanceMatrix(legacy: Data([0, 0, 0, 0]), source: "empty.dat") }
        try withTemporaryDirectory { dir in
            var writer = GGUFWriter()
            writer.set("general.type", .string("imatrix"))
            writer.addTensor("w.in_sum2", Tensor(shape: [1, 4], scalars: [1, 2, 3, 4]), as: .f32)
            writer.addTensor("w.counts", Tensor(shape: [1, 1], scalars: [3]), as: .f32)
            try writer.write(to: dir + "/nometa.gguf")
            #expect {
                try ImportanceMatrix.read(path: dir + "/nometa.gguf")
            } throws: { error in
                guard case CheckpointError.invalidConfig(let file, let field, _) = error else { return false }
                return file == dir + "/nometa.gguf" && field == ImportanceMatrix.datasetsKey
            }
            writer.set(ImportanceMatrix.datasetsKey, .array(.string, []))
            writer.set(ImportanceMatrix.chunkCountKey, .uint32(0))
            writer.set(ImportanceMatrix.chunkSizeKey, .uint32(512))
            writer.addTensor("v.in_sum2", Tensor(shape: [1, 4], scalars: [1, 2, 3, 4]), as: .f32)
            try writer.write(to: dir + "/nocounts.gguf")
            #expect {
                try ImportanceMatrix.read(path: dir + "/nocounts.gguf")
            } throws: { error in
                error as? CheckpointError == .missingTensor(file: dir + "/nocounts.gguf", tensor: "v.counts")
            }
        }
    }

    /// llama.cpp reads what nanoforge writes and writes what nanoforge reads: `llama-imatrix
    /// --in-file ours.gguf` (its loader, then its writer, no model run) gives back our matrix in
    /// GGUF, and in `--output-format dat` exactly the bytes of `legacyData()`.
    @Test(.enabled(if: hasLlamaImatrix, "llama-imatrix not built (scripts/interop/build_llama_cpp.sh)"))
    func llamaImatrixReadsAndRewritesOurFiles() throws {
        let m = try Self.sample()
        try withTemporaryDirectory { dir in
            try m.writeGGUF(to: dir + "/ours.gguf")
            for (output, format) in [("theirs.gguf", "gguf"), ("theirs.dat", "dat")] {
                // -m is required by the argument parser but not opened when only merging files.
                let run = try CommandRunner.run(Self.llamaImatrix, ["-m", dir + "/unused.gguf", "--in-file", dir + "/ours.gguf",
                                                                    "-o", dir + "/" + output, "--output-format", format])
                #expect(run.status == 0, "llama-imatrix: \(run.stderr.suffix(600))")
            }
            #expect(try ImportanceMatrix.read(path: dir + "/theirs.gguf") == m)
            let theirs = try Data(contentsOf: URL(fileURLWithPath: dir + "/theirs.dat"))
            #expect(theirs == (try m.legacyData()))
            #expect(try ImportanceMatrix.read(path: dir + "/theirs.dat") == ImportanceMatrix(legacy: theirs, source: "theirs.dat"))
        }
    }

    /// A matrix collected by llama-imatrix itself on SmolLM2 (2 chunks of 32 tokens): an entry per
    /// linear weight of the model, as wide as its input, with 64 tokens each; q, k and v (and gate
    /// and up) see the same inputs, so their sums are equal.
    @Test(.enabled(if: hasLlamaImatrix && FileManager.default.fileExists(atPath: model), "llama-imatrix or the SmolLM2 GGUF is missing"))
    func readsAMatrixLlamaImatrixCollected() throws {
        let text = try String(contentsOfFile: try RepositoryPaths.requireCached("data/pydoc-topics.txt"), encoding: .utf8)
        try withTemporaryDirectory { dir in
            try String(text.prefix(3000)).write(toFile: dir + "/text.txt", atomically: true, encoding: .utf8)
            let run = try CommandRunner.run(Self.llamaImatrix, ["-m", Self.model, "-f", dir + "/text.txt", "-o", dir + "/imatrix.gguf",
                                                                "-c", "32", "--chunks", "2", "-b", "64", "-t", "2", "--no-ppl"])
            try #require(run.status == 0, "llama-imatrix: \(run.stderr.suffix(600))")
            let m = try ImportanceMatrix.read(path: dir + "/imatrix.gguf")
            let weights = try GGUFFile.read(path: Self.model)
            #expect(m.chunkCount == 2 && m.chunkSize == 32 && m.datasets == [dir + "/text.txt"])
            let linear = weights.tensors.filter { $0.name.hasPrefix("blk.") && $0.dimensions.count == 2 }
            #expect(Set(m.names) == Set(linear.map(\.name)))
            for info in linear {
                guard let entry = m.entries[info.name] else { continue }
                #expect(entry.counts == [64] && entry.columns == info.dimensions[0], "\(info.name)")
                #expect(entry.sums.allSatisfy { $0.isFinite && $0 >= 0 } && entry.sums.contains { $0 > 0 })
            }
            #expect(m.entries["blk.3.attn_q.weight"] != nil && m.entries["blk.3.attn_q.weight"] == m.entries["blk.3.attn_k.weight"])
            #expect(m.entries["blk.3.ffn_gate.weight"] != nil && m.entries["blk.3.ffn_gate.weight"] == m.entries["blk.3.ffn_up.weight"])
            #expect(m.entries["blk.3.ffn_down.weight"] != m.entries["blk.3.ffn_up.weight"])
        }
    }
}
