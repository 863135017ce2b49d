import NanoTensor

/// Vocabulary trimming: the embedding table's rows, and the head's when it has its own.
extension LlamaModel: TrimmableVocabularyModel {
    public func keepTokens(_ ids: [Int]) {
        precondition(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 } && ids.allSatisfy { (0..<vocabularySize).contains($0) },
                     "keepTokens: ids must be ascending, distinct and below \(vocabularySize)")
        tokenEmbedding = Embedding(weight: Tensor.gatherRows(tokenEmbedding.weight.value, ids))
        head = head?.keepingRows(ids)
        configuration.vocabularySize = ids.count
    }
}
