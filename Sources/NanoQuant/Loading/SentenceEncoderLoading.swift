import Foundation
import NanoCheckpoint
import NanoModels

extension SentenceEncoder {
    /// Loads a BERT-style sentence encoder: the weights and config through `PackedModel` (plain
    /// or packed checkpoints; quantized layers hold their dequantized weights), and the
    /// `vocab.txt` beside them.
    public static func load(path: String, maxLength: Int = 256) throws -> SentenceEncoder {
        try loadPacked(path: path, maxLength: maxLength).encoder
    }

    /// As `load(path:maxLength:)`, also returning the packed form of each quantized layer (empty
    /// for a plain checkpoint), keyed by layer name without `.weight`.
    public static func loadPacked(path: String, maxLength: Int = 256) throws -> (encoder: SentenceEncoder, quantized: [String: QuantizedTensor]) {
        let loaded = try PackedModel.load(path: path)
        return (try SentenceEncoder(loaded.model, path: path, maxLength: maxLength), loaded.quantized)
    }

    /// A sentence encoder from a loaded BERT and the `vocab.txt` beside `path`.
    public init(_ model: LoadedModel, path: String, maxLength: Int = 256) throws {
        guard let bert = model.as(BertEncoder.self) else {
            throw CheckpointError.invalidConfig(file: path, field: "architecture",
                                                reason: "\(model.spec.architectureName): sentence embeddings need a BERT-style encoder")
        }
        self.init(tokenizer: try Self.tokenizer(beside: path, vocabularySize: bert.configuration.vocabularySize),
                  encoder: bert, maxLength: maxLength)
    }

    /// The WordPiece tokenizer of the `vocab.txt` in the model folder `path` (or beside the
    /// weights file `path`), checked to have one token per embedding row.
    public static func tokenizer(beside path: String, vocabularySize: Int) throws -> WordPieceTokenizer {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let folder = isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
        let vocab = (folder as NSString).appendingPathComponent("vocab.txt")
        let tokenizer = try WordPieceTokenizer(vocabularyFile: vocab)
        guard tokenizer.vocabulary.count == vocabularySize else {
            throw CheckpointError.invalidConfig(file: vocab, field: "vocab.txt",
                                                reason: "\(tokenizer.vocabulary.count) tokens, but the model's embedding table has \(vocabularySize) rows")
        }
        return tokenizer
    }
}
