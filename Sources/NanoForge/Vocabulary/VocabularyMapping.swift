/// The ids of one token-level vocabulary (a student's, a compressed model's) in another that
/// contains it (its teacher's, the reference's), matched by token string: how a trimmed or
/// renumbered model is compared with the model it came from. Decoder distillation maps its
/// teachers with it, and `kl_divergence` its reference.
///
/// Every token of the smaller vocabulary must be in the larger one (a trim keeps a subset, a
/// renumbering a permutation); tokens of the larger one the smaller lacks map to −1. When a
/// token string occurs twice in the larger vocabulary, its first id counts.
public struct VocabularyMapping: Equatable, Sendable {
    /// Per id of the smaller vocabulary: its id in the larger one.
    public let largerIds: [Int]
    /// Per id of the larger vocabulary (its model's `vocabularySize` rows): the smaller
    /// vocabulary's id, −1 where it lacks the token.
    public let smallerIds: [Int32]

    /// A token of the smaller vocabulary that the larger one lacks, or whose id lies outside the
    /// larger model's rows.
    public struct MissingToken: Error, Equatable {
        public let id: Int
        public let token: String
    }

    /// Maps `smaller` into `larger`, whose model has `largerRows` output rows (≥ the ids used).
    public init(smaller: [String], larger: [String], largerRows: Int) throws {
        var index: [String: Int] = [:]
        index.reserveCapacity(larger.count)
        for (id, token) in larger.enumerated() where index[token] == nil { index[token] = id }
        largerIds = try smaller.enumerated().map { id, token -> Int in
            guard let l = index[token], l < largerRows else { throw MissingToken(id: id, token: token) }
            return l
        }
        var smallerIds = [Int32](repeating: -1, count: largerRows)
        for (s, l) in largerIds.enumerated() { smallerIds[l] = Int32(s) }
        self.smallerIds = smallerIds
    }

    /// Whether both vocabularies number the same tokens alike (nothing lacking, nothing moved).
    public var isIdentity: Bool {
        largerIds.count == smallerIds.count && largerIds.enumerated().allSatisfy { $0.offset == $0.element }
    }
}
