import Foundation
import NanoCheckpoint
import NanoModels

extension SentenceEncoder {
    /// Loads a BERT-style sentence encoder: the weights and config through `ModelLoader`, and the
    /// `vocab.txt` beside them.
    public static func load(path: String, maxLength: Int = 256) throws -> SentenceEncoder {
        let (model, _) = try ModelLoader.load(path: path)
        guard case .bert(let bert) = model else {
            throw PipelineError.unsupportedModel(recipe: path, architecture: model.spec.architectureName,
                                                 reason: "sentence embeddings need a BERT-style encoder")
        }
        var isDirectory: ObjCBool = false
        FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let folder = isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
        let vocab = (folder as NSString).appendingPathComponent("vocab.txt")
        let tokenizer = try WordPieceTokenizer(vocabularyFile: vocab)
        guard tokenizer.vocabulary.count == bert.configuration.vocabularySize else {
            throw CheckpointError.invalidConfig(file: vocab, field: "vocab.txt",
                                                reason: "\(tokenizer.vocabulary.count) tokens, but the model's embedding table has \(bert.configuration.vocabularySize) rows")
        }
        return SentenceEncoder(tokenizer: tokenizer, encoder: bert, maxLength: maxLength)
    }
}
