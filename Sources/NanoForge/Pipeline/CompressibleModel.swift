import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// What the pipeline needs of a model, whatever its family: its parameters, its Linear layers and
/// the spec to save it with. Character-level decoders carry their vocabulary in their config
/// (`characters`).
extension EvaluatedModel {
    public var container: ParameterContainer {
        switch self {
        case .sentenceEncoder(let e): return e.encoder
        case .sentenceEmbedding: return NoParameters()
        case .classifier(let c): return c
        case .decoder(let d, _): return d
        }
    }

    /// Every Linear layer with its checkpoint name, in model order.
    public var linearLayers: [(name: String, layer: Linear)] {
        switch self {
        case .sentenceEncoder(let e): return NanoForge.linearLayers(of: e.encoder)
        case .sentenceEmbedding: return []
        case .classifier(let c): return NanoForge.linearLayers(of: .mlp(c))
        case .decoder(let d, _): return NanoForge.linearLayers(of: d)
        }
    }

    /// Embedding tables with their checkpoint names (quantizable when a recipe targets `Embedding`).
    public var embeddingLayers: [(name: String, layer: Embedding)] {
        switch self {
        case .sentenceEncoder(let e):
            return [("embeddings.word_embeddings", e.encoder.wordEmbeddings), ("embeddings.position_embeddings", e.encoder.positionEmbeddings),
                    ("embeddings.token_type_embeddings", e.encoder.tokenTypeEmbeddings)]
        case .sentenceEmbedding, .classifier, .decoder: return []
        }
    }

    /// The spec the saved config records (pruned layer sizes included).
    public var spec: ModelSpec {
        switch self {
        case .sentenceEncoder(let e): return .bert(e.encoder.configuration)
        case .sentenceEmbedding(_, let spec): return spec
        case .classifier(let c): return .mlp(c.configuration)
        case .decoder(let d, _): return .decoder(d.configuration)
        }
    }

    /// The sentence encoder, or an error naming `stage` for passes that only apply to one.
    func sentenceEncoder(for stage: String, recipe: String) throws -> SentenceEncoder {
        guard case .sentenceEncoder(let e) = self else {
            throw PipelineError.stageFailed(recipe: recipe, stage: stage, reason: "this pass needs a BERT-style sentence encoder, the model is a \(kindName)")
        }
        return e
    }

    /// Loads a model a recipe names, plain or already compressed: a BERT-style encoder with its
    /// `vocab.txt` becomes a sentence encoder, an MLP a classifier. Also returns the packed form
    /// of layers quantized before and their activation quantization (already installed).
    public static func load(path: String, recipe: String) throws
        -> (model: EvaluatedModel, quantized: [String: QuantizedTensor], activations: [String: ActivationQuantization]) {
        let loaded = try PackedModel.load(path: path)
        switch loaded.model {
        case .bert:
            return (.sentenceEncoder(try SentenceEncoder(loaded.model, path: path, maxLength: 256)), loaded.quantized, loaded.activations)
        case .mlp(let m): return (.classifier(m), loaded.quantized, loaded.activations)
        case .decoder(let d):
            return (.decoder(d, try characterVocabulary(d.configuration, path: path, recipe: recipe)), loaded.quantized, loaded.activations)
        }
    }

    /// The character vocabulary a decoder's config carries.
    static func characterVocabulary(_ c: GPTDecoder.Configuration, path: String, recipe: String) throws -> CharacterVocabulary {
        guard let characters = c.characters else {
            throw PipelineError.unsupportedModel(recipe: recipe, architecture: "gpt_decoder",
                                                 reason: "\(path): the config has no `characters` (the character vocabulary); only character-level decoders saved by nanoforge can be loaded")
        }
        guard let vocabulary = CharacterVocabulary(characters: characters), vocabulary.count == c.vocabularySize else {
            throw PipelineError.unsupportedModel(recipe: recipe, architecture: "gpt_decoder",
                                                 reason: "\(path): config `characters` must hold vocabularySize (\(c.vocabularySize)) distinct characters")
        }
        return vocabulary
    }
}

/// The container of a model without trainable parameters (`EvaluatedModel.sentenceEmbedding`).
final class NoParameters: ParameterContainer {
    func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {}
}
