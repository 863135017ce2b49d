import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor

/// What the pipeline needs of a model, whatever its family: its parameters, its layers (through
/// the one module walk, `ParameterContainer.layers(of:)`) and the spec to save it with.
/// Character-level decoders carry their vocabulary in their config (`characters`).
extension EvaluatedModel {
    public var container: ParameterContainer { model?.container ?? NoParameters() }

    /// Every Linear layer with its checkpoint name, in model order.
    public var linearLayers: [(name: String, layer: Linear)] { container.layers(of: Linear.self) }

    /// Embedding tables with their checkpoint names (quantizable when a recipe targets `Embedding`).
    public var embeddingLayers: [(name: String, layer: Embedding)] { container.layers(of: Embedding.self) }

    /// The spec the saved config records (pruned layer sizes included).
    public var spec: ModelSpec { model?.spec ?? packedSpecOrFail }

    /// The sentence encoder, or an error naming `stage` for passes that only apply to one.
    func sentenceEncoder(for stage: String, recipe: String) throws -> SentenceEncoder {
        guard let e = sentenceEncoder else {
            throw PipelineError.stageFailed(recipe: recipe, stage: stage, reason: "this pass needs a BERT-style sentence encoder, the model is a \(kindName)")
        }
        return e
    }

    /// Loads a model a recipe names, plain or already compressed, with the input adapter its
    /// family declares (`ModelArchitecture.inputAdapter`): a WordPiece model gets the `vocab.txt`
    /// beside it, a character model the vocabulary its config carries. Also returns the packed
    /// form of layers quantized before, their ggml block codes and their activation quantization
    /// (already installed).
    public static func load(path: String, recipe: String) throws
        -> (model: EvaluatedModel, quantized: [String: QuantizedTensor], ggmlQuantized: [String: GGMLQuantizedTensor],
            activations: [String: ActivationQuantization]) {
        let loaded = try PackedModel.load(path: path)
        return (try EvaluatedModel(loaded.model, path: path, recipe: recipe), loaded.quantized, loaded.ggmlQuantized, loaded.activations)
    }

    /// A loaded model with the input adapter its family declares, read from beside `path`.
    public init(_ model: LoadedModel, path: String, recipe: String, maxLength: Int = 256) throws {
        let input: Input
        switch model.architecture.inputAdapter {
        case .wordPiece:
            let e = try SentenceEncoder(model, path: path, maxLength: maxLength)
            input = .wordPiece(e.tokenizer, maxLength: e.maxLength)
        case .characters:
            guard let next = model.container as? NextTokenLogitsModel else {
                throw PipelineError.unsupportedModel(recipe: recipe, architecture: model.architecture.name, reason: "a character model must predict next tokens")
            }
            input = .characters(try Self.characterVocabulary(next, path: path, recipe: recipe, architecture: model.architecture.name))
        case .features:
            input = .features
        case .byteLevelBPE:
            input = .byteLevelBPE(try Self.byteLevelBPETokenizer(path: path, recipe: recipe, architecture: model.architecture.name))
        }
        self.init(model, input: input)
    }

    /// The character vocabulary a decoder's config carries.
    static func characterVocabulary(_ d: any NextTokenLogitsModel, path: String, recipe: String, architecture: String) throws -> CharacterVocabulary {
        guard let characters = d.vocabularyCharacters else {
            throw PipelineError.unsupportedModel(recipe: recipe, architecture: architecture,
                                                 reason: "\(path): the config has no `characters` (the character vocabulary); only character-level decoders saved by nanoforge can be loaded")
        }
        guard let vocabulary = CharacterVocabulary(characters: characters), vocabulary.count == d.vocabularySize else {
            throw PipelineError.unsupportedModel(recipe: recipe, architecture: architecture,
                                                 reason: "\(path): config `characters` must hold vocabularySize (\(d.vocabularySize)) distinct characters")
        }
        return vocabulary
    }
}

/// The container of a model without trainable parameters (the packed runtime's encoder).
final class NoParameters: ParameterContainer {
    func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {}
}
