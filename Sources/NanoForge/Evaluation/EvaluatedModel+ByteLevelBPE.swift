import Foundation
import NanoCheckpoint
import NanoModels

extension LanguageModelTokenizer {
    /// A byte-level BPE tokenizer: special-token text is read as plain text, and BOS leads each
    /// chunk when the tokenizer asks for it (`add_bos_token`), as llama.cpp's `llama-perplexity` does.
    public static func byteLevelBPE(_ tokenizer: ByteLevelBPETokenizer) -> LanguageModelTokenizer {
        LanguageModelTokenizer(beginningOfSequence: tokenizer.addsBOS ? tokenizer.bosID : nil,
                               encode: { tokenizer.encode($0, allowSpecial: false, addBOS: false) },
                               byteCount: { tokenizer.bytes(ofToken: $0).count })
    }
}

extension EvaluatedModel {
    /// A Llama decoder loaded elsewhere (the packed runtime's lean GGUF load) with the byte-level
    /// BPE tokenizer stored with `path`.
    public static func llamaDecoder(_ llama: LlamaModel, path: String) throws -> EvaluatedModel {
        EvaluatedModel(.llama(llama), input: .byteLevelBPE(try byteLevelBPETokenizer(path: path, recipe: path, architecture: LlamaArchitecture.name)))
    }

    /// The byte-level BPE tokenizer stored with a model: a GGUF file's `tokenizer.ggml.*` metadata,
    /// else the `tokenizer.json` in the model folder (or beside the weights file), as Hugging Face
    /// folders and nanoforge's output folders hold it.
    static func byteLevelBPETokenizer(path: String, recipe: String, architecture: String) throws -> ByteLevelBPETokenizer {
        do {
            if try ModelLoader.isGGUF(path) { return try ByteLevelBPETokenizer(gguf: try GGUFFile.read(path: path)) }
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let folder = isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
            let json = (folder as NSString).appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: json) else {
                throw PipelineError.unsupportedModel(recipe: recipe, architecture: architecture,
                                                     reason: "\(path): no tokenizer (a GGUF file's tokenizer.ggml.* metadata, or tokenizer.json in the folder)")
            }
            return try ByteLevelBPETokenizer(tokenizerJSON: json)
        } catch let error as BPETokenizerError {
            throw PipelineError.unsupportedModel(recipe: recipe, architecture: architecture, reason: error.description)
        }
    }
}

extension EvaluatedModel.Input {
    /// Writes the input adapter's files into a model folder, where `EvaluatedModel.init(_:path:recipe:)`
    /// reads them back: WordPiece's `vocab.txt`, a byte-level BPE tokenizer's `tokenizer.json` and
    /// `tokenizer_config.json`. Character vocabularies travel in the config; features need none.
    func writeFiles(into folder: String) throws {
        switch self {
        case .wordPiece(let tokenizer, _):
            try AtomicFile.write(Data((tokenizer.vocabulary.joined(separator: "\n") + "\n").utf8), to: folder + "/vocab.txt")
        case .byteLevelBPE(let tokenizer):
            try tokenizer.write(toFolder: folder)
        case .characters, .features:
            break
        }
    }
}
