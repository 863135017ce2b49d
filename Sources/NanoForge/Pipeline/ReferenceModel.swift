import NanoModels

extension EvaluatedModel {
    /// A second model with the same parameters, sharing their tensor storage: new layer objects
    /// whose `Tensor`s are copy-on-write copies of this model's, so nothing is duplicated until a
    /// pass replaces or writes a weight, and then only that weight. Linear layers keep their
    /// input and weight transforms (the activation quantization of a model compressed before).
    /// The pipeline's reference model is such a copy of the working one: MiniLM's embeddings
    /// (47 MB of its 91) and every tensor a stage leaves alone are held once. Nil for a decoder
    /// (the pipeline then loads the reference again) and for the packed runtime's encoder.
    func sharingCopy() -> EvaluatedModel? {
        let copy: EvaluatedModel
        switch self {
        case .sentenceEncoder(let e):
            let b = e.encoder
            let encoder = BertEncoder(configuration: b.configuration, wordEmbeddings: StudentBuilder.copy(b.wordEmbeddings),
                                      positionEmbeddings: StudentBuilder.copy(b.positionEmbeddings),
                                      tokenTypeEmbeddings: StudentBuilder.copy(b.tokenTypeEmbeddings),
                                      embeddingNorm: StudentBuilder.copy(b.embeddingNorm), layers: b.layers.map(StudentBuilder.copy),
                                      pooler: b.pooler.map(StudentBuilder.copy))
            copy = .sentenceEncoder(SentenceEncoder(tokenizer: e.tokenizer, encoder: encoder, maxLength: e.maxLength))
        case .classifier(let c):
            copy = .classifier(MLPClassifier(configuration: c.configuration, layers: c.layers.map(StudentBuilder.copy)))
        case .decoder, .sentenceEmbedding:
            return nil
        }
        for (original, new) in zip(linearLayers, copy.linearLayers) {
            new.layer.inputTransform = original.layer.inputTransform
            new.layer.weightTransform = original.layer.weightTransform
            new.layer.inputObserver = original.layer.inputObserver
        }
        return copy
    }
}
