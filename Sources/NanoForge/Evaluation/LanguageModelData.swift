import Foundation
import NanoModels

/// A data file as the language-model tasks read it with llama.cpp's conventions: the whole file,
/// verbatim (blank lines and line ends included, as `llama-perplexity -f FILE` reads it),
/// tokenized once and cut into `LanguageModelChunks`.
enum LanguageModelData {
    /// The chunks of `path` for `input`. `limit` keeps the first N chunks (llama.cpp's
    /// `--chunks`); `context` defaults to `input.defaultContext` and must lie in 3…contextLength.
    static func chunks(_ input: LanguageModelInput, data path: String, limit: Int?, context: Int?, task: String) throws -> LanguageModelChunks {
        let context = try checkedContext(context, input, task: task)
        if let limit, limit < 1 { throw DataError.unreadable(file: path, reason: "limit must be at least 1, got \(limit)") }
        let tokens = input.tokenizer.encode(try text(path))
        let chunks = LanguageModelChunks(tokens: tokens, context: context, bos: input.tokenizer.beginningOfSequence, maximumChunks: limit)
        guard !chunks.sequences.isEmpty else {
            let bos = input.tokenizer.beginningOfSequence == nil ? "" : " with BOS"
            throw EvaluationError.dataMismatch(file: path, line: nil, expected: "at least one chunk of \(context) tokens (the context)",
                                               found: "\(tokens.count) tokens\(bos)")
        }
        return chunks
    }

    /// `context`, or the model's default, checked against what the model accepts.
    static func checkedContext(_ context: Int?, _ input: LanguageModelInput, task: String) throws -> Int {
        let value = context ?? input.defaultContext
        guard value >= 3, value <= input.model.contextLength else {
            throw EvaluationError.unsupported(task: task, model: "decoder",
                                              hint: "context \(value) must lie in 3…\(input.model.contextLength) (the model's context length; a chunk scores its second half)")
        }
        return value
    }

    /// The file's whole text. Errors name the file, as `EvaluationData`'s readers do.
    static func text(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DataError.unreadable(file: path, reason: isDirectory.boolValue ? "is a folder" : "no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError.unreadable(file: path, reason: "cannot read") }
        guard let text = String(data: data, encoding: .utf8) else { throw DataError.unreadable(file: path, reason: "not UTF-8 text") }
        if text.isEmpty { throw DataError.empty(file: path) }
        return text
    }

    /// The language-model view of `model`, or the error saying `task` needs one.
    static func input(_ model: EvaluatedModel, task: String) throws -> LanguageModelInput {
        guard let input = model.languageModel else {
            throw EvaluationError.unsupported(task: task, model: model.kindName, hint: "it needs a decoder")
        }
        if let (decoder, vocabulary) = model.decoder { try EvaluatedModel.checkVocabulary(decoder, vocabulary) }
        return input
    }
}
