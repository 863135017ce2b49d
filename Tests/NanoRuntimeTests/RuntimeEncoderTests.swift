import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
@testable import NanoQuant
@testable import NanoRuntime
import NanoTensor
import TestSupport
import Testing

/// The runtime against `PackedModel` + `SentenceEncoder` (the dequantized fp32 path) on the
/// same packed checkpoint: the embeddings must agree to cosine ≥ 0.9999.
@Suite struct RuntimeEncoderTests {
    static let sentences = ["the cat sat on the mat", "a b c", "stars and planets move across the night sky in silence",
                            "packed weights", "x"]

    /// Quantizes every encoder Linear of `bert` with `scheme` (RTN), and with `embeddings` its
    /// three embedding tables too (rows as channels, as `targets: [Embedding]` does), writes the
    /// packed model, config and vocabulary into `dir`.
    static func writePacked(_ bert: BertEncoder, vocabulary: [String], scheme: QuantizationScheme, embeddings: Bool = false,
                            into dir: String) throws {
        var quantized: [String: QuantizedTensor] = [:]
        for (name, variable) in bert.namedParameters.map({ ($0.name, $0.variable) })
        where (name.hasPrefix("encoder.") || (embeddings && name.hasPrefix("embeddings.") && !name.contains("LayerNorm")))
            && name.hasSuffix(".weight") && variable.value.rank == 2 {
            quantized[String(name.dropLast(".weight".count))] = try RTN.quantize(variable.value, scheme: scheme)
        }
        let parameters = bert.namedParameters.map { (name: $0.name, value: $0.variable.value) }
        let metadata = ["nanoforge.config": ModelSpec.bert(bert.configuration).nativeJSON.serialized]
        let store = try PackedCheckpoint.pack(parameters: parameters, quantized: quantized, metadata: metadata, file: dir)
        try SafetensorsWriter.write(store, to: dir + "/model.safetensors")
        try vocabulary.joined(separator: "\n").write(toFile: dir + "/vocab.txt", atomically: true, encoding: .utf8)
    }

    static func minCosine(_ a: Tensor, _ b: Tensor) -> Float {
        let (n, d) = (a.shape[0], a.shape[1])
        return (0..<n).map { i -> Float in
            var dot: Float = 0, na: Float = 0, nb: Float = 0
            for j in 0..<d {
                let x = a.scalars[i * d + j], y = b.scalars[i * d + j]
                dot += x * y; na += x * x; nb += y * y
            }
            return dot / (na * nb).squareRoot()
        }.min() ?? 0
    }

    func compare(_ dir: String, kernel: RuntimeKernel, minimum: Float, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let reference = try SentenceEncoder.load(path: dir, maxLength: 64).encode(Self.sentences, batchSize: 2)
        let runtime = try RuntimeEncoder.load(path: dir, maxLength: 64, kernel: kernel)
        let ours = runtime.encode(Self.sentences, batchSize: 2)
        #expect(ours.shape == reference.shape, sourceLocation: sourceLocation)
        #expect(Self.minCosine(ours, reference) >= minimum, "\(kernel)", sourceLocation: sourceLocation)
    }

    @Test func tinyBertInt8AndInt4MatchTheDequantizedPath() throws {
        let words = ["the", "cat", "sat", "on", "mat", "a", "b", "c", "stars", "and", "planets", "move", "across",
                     "night", "sky", "in", "silence", "packed", "weights", "x"]
        let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
        let c = BertEncoder.Configuration(vocabularySize: vocabulary.count, width: 64, layers: 2, heads: 4,
                                          intermediateWidth: 128, maxPositions: 32)
        var rng = RandomGenerator(seed: 11)
        let bert = BertEncoder(c, rng: &rng)
        for (scheme, kernel, minimum) in [
            (QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), RuntimeKernel.dequant, Float(0.9999)),
            (QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), .integer, 0.999),
            (QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), .u8s8, 0.999),
            (QuantizationScheme(bits: 4, symmetric: true, granularity: .group(32)), .dequant, 0.9999),
            (QuantizationScheme(bits: 4, symmetric: false, granularity: .group(64)), .dequant, 0.9999),
        ] {
            try withTemporaryDirectory { dir in
                try Self.writePacked(bert, vocabulary: vocabulary, scheme: scheme, into: dir)
                try compare(dir, kernel: kernel, minimum: minimum)
            }
        }
    }

    /// A model whose embedding tables are quantized too (the nano MiniLM's mixed precision
    /// targets Linear and Embedding): word rows are expanded when gathered, positions and token
    /// types once at load.
    @Test func quantizedEmbeddingTablesMatchTheDequantizedPath() throws {
        let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "a", "b", "c",
                          "stars", "and", "planets", "move", "across", "night", "sky", "in", "silence", "packed", "weights", "x"]
        let c = BertEncoder.Configuration(vocabularySize: vocabulary.count, width: 64, layers: 1, heads: 4,
                                          intermediateWidth: 128, maxPositions: 32)
        var rng = RandomGenerator(seed: 5)
        let bert = BertEncoder(c, rng: &rng)
        for scheme in [QuantizationScheme(bits: 8, symmetric: true, granularity: .group(32)),
                       QuantizationScheme(bits: 4, symmetric: true, granularity: .group(32))] {
            try withTemporaryDirectory { dir in
                try Self.writePacked(bert, vocabulary: vocabulary, scheme: scheme, embeddings: true, into: dir)
                let store = try CheckpointReader.read(path: dir + "/model.safetensors")
                #expect(store["embeddings.word_embeddings.weight.qweight"] != nil, "the word table is stored packed")
                try compare(dir, kernel: .dequant, minimum: 0.9999)
            }
        }
    }

    /// all-MiniLM-L6-v2, int8 per channel (RTN in memory, a few seconds).
    @Test func miniLMInt8MatchesTheDequantizedPath() throws {
        let source = try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2")
        guard let bert = try ModelLoader.load(path: source).model.as(BertEncoder.self) else {
            Issue.record("MiniLM is not BERT")
            return
        }
        let vocabulary = try String(contentsOfFile: source + "/vocab.txt", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        try withTemporaryDirectory { dir in
            try Self.writePacked(bert, vocabulary: Array(vocabulary.prefix(bert.configuration.vocabularySize)),
                                 scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), into: dir)
            try compare(dir, kernel: .dequant, minimum: 0.9999)
            // Dynamic per-token int8 activations add their own rounding: min cosine measured 0.99218
            // (the same codes and sums before and after the register-blocked Int8GEMM).
            try compare(dir, kernel: .integer, minimum: 0.99)
            // 7-bit asymmetric activations: on rows that straddle 0 their step is about twice the
            // symmetric 8-bit one. Min cosine measured 0.98894.
            try compare(dir, kernel: .u8s8, minimum: 0.985)
        }
    }

    /// A sentence's embedding has the same bits alone and in a padded batch when every layer's
    /// products are exact (integer GEMMs on per-token codes): attention reads only the sentence's
    /// own keys, and every other step is row by row. (Float GEMMs need not be: sgemm may sum in
    /// another order for another row count.)
    @Test func integerKernelsGiveASentenceTheSameBitsInAnyBatch() throws {
        let words = ["the", "cat", "sat", "on", "mat", "a", "b", "c", "stars", "and", "planets", "move", "across",
                     "night", "sky", "in", "silence", "packed", "weights", "x"]
        let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
        let c = BertEncoder.Configuration(vocabularySize: vocabulary.count, width: 64, layers: 2, heads: 4,
                                          intermediateWidth: 128, maxPositions: 32)
        var rng = RandomGenerator(seed: 13)
        let bert = BertEncoder(c, rng: &rng)
        try withTemporaryDirectory { dir in
            try Self.writePacked(bert, vocabulary: vocabulary, scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), into: dir)
            for kernel in [RuntimeKernel.integer, .u8s8] {
                let runtime = try RuntimeEncoder.load(path: dir, maxLength: 32, kernel: kernel)
                let ids = Self.sentences.map { runtime.tokenizer.encode($0, maxLength: 32) }
                let batch = runtime.embeddings(tokenIds: ids)
                for (i, sentence) in ids.enumerated() {
                    let alone = runtime.embeddings(tokenIds: [sentence])
                    let row = Array(batch.scalars[(i * runtime.width)..<((i + 1) * runtime.width)])
                    #expect(alone.scalars.map(\.bitPattern) == row.map(\.bitPattern), "\(kernel): sentence \(i) (\(sentence.count) of \(ids.map(\.count).max()!) tokens)")
                }
            }
        }
    }

    @Test func loadErrorNamesTheFolder() throws {
        try withTemporaryDirectory { dir in
            let error = #expect(throws: (any Error).self) { try RuntimeEncoder.load(path: dir) }
            #expect("\(error.map { "\($0)" } ?? "")".contains(dir), "\(String(describing: error))")
        }
    }
}
