/// A character-level vocabulary: every distinct Unicode scalar of a corpus gets an id, in
/// scalar order, so the same text always gives the same ids.
public struct CharacterVocabulary: Equatable, Sendable {
    public let scalars: [Unicode.Scalar]
    private let ids: [Unicode.Scalar: Int]

    public init(corpus: String) {
        scalars = Array(Set(corpus.unicodeScalars)).sorted { $0.value < $1.value }
        ids = Dictionary(uniqueKeysWithValues: scalars.enumerated().map { ($1, $0) })
    }

    /// The vocabulary of a stored decoder: token i is the i-th Unicode scalar of `characters`;
    /// nil when a scalar repeats.
    public init?(characters: String) {
        let list = Array(characters.unicodeScalars)
        guard !list.isEmpty, Set(list).count == list.count else { return nil }
        scalars = list
        ids = Dictionary(uniqueKeysWithValues: list.enumerated().map { ($1, $0) })
    }

    /// Every token's character in id order: how decoder checkpoints store the vocabulary
    /// (`config.characters`).
    public var characters: String { var s = String.UnicodeScalarView(); s.append(contentsOf: scalars); return String(s) }

    public var count: Int { scalars.count }

    /// Ids of `text`; scalars outside the vocabulary are dropped.
    public func encode(_ text: String) -> [Int] { text.unicodeScalars.compactMap { ids[$0] } }

    public func decode(_ tokens: [Int]) -> String {
        var s = String.UnicodeScalarView()
        for t in tokens where t >= 0 && t < scalars.count { s.append(scalars[t]) }
        return String(s)
    }

    /// Entropy in nats of the unigram (character frequency) distribution of `tokens`: the loss of a
    /// model that ignores context, which a language model must beat.
    public static func unigramEntropy(_ tokens: [Int], vocabularySize: Int) -> Double {
        var counts = [Int](repeating: 0, count: vocabularySize)
        for t in tokens { counts[t] += 1 }
        let n = Double(tokens.count)
        return -counts.filter { $0 > 0 }.map { Double($0) / n }.reduce(0) { $0 + $1 * Foundation.log($1) }
    }
}

import Foundation
