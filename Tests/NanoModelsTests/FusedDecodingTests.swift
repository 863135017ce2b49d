import Foundation
import Testing
import NanoTensor
import NanoModels
import TestSupport

/// Llama's fused inference path (`decodeFused`) against the layers' own forwards on a tape, and
/// the token-major rotary rotation against the head-major one.
@Suite struct FusedDecodingTests {
    @Test(arguments: [0, 3])
    func rotateRowsMatchesApplyPerHead(offset: Int) {
        let rope = RotaryEmbedding(headDimension: 8, maxLength: 16, base: 100)
        var rng = RandomGenerator(seed: 7)
        let x = rng.normal(shape: [5, 3 * 8])                                           // [T, heads · D]
        var rotated = x
        rope.rotateRows(&rotated, offset: offset)
        let perHead = rope.apply(x.reshaped([5, 3, 8]).permuted([1, 0, 2]), offset: offset)  // [heads, T, D]
        #expect(rotated == perHead.permuted([1, 0, 2]).reshaped([5, 24]))
    }

    /// A Linear with an observer sends `decode` through the tape path; both paths agree.
    @Test(arguments: [(2, false, false), (1, true, true)])
    func fusedMatchesTheTapePath(kvHeads: Int, tied: Bool, bias: Bool) {
        let model = LlamaModelTests.tiny(kvHeads: kvHeads, tied: tied, bias: bias)
        let tokens = [5, 17, 0, 36, 9, 9, 22, 1, 30, 14, 2, 8, 33, 7]
        #expect(model.fusedDecodingApplies)
        func run() -> [Float] {
            let cache = LlamaKVCache(for: model, capacity: 20)
            return model.decode(Array(tokens[0..<9]), cache: cache).scalars + model.decode(Array(tokens[9...]), cache: cache).scalars
        }
        let fused = run()
        var observed = 0
        model.blocks[1].feedForward.down.inputObserver = { _ in observed += 1 }
        #expect(!model.fusedDecodingApplies)
        let onTape = run()
        #expect(observed == 2)
        let v = model.configuration.vocabularySize
        let difference = maxAbsDifference(Tensor(shape: [tokens.count, v], scalars: fused), Tensor(shape: [tokens.count, v], scalars: onTape))
        // Measured ~1e-6 (the order of float additions differs).
        #expect(difference <= 1e-4, "\(difference)")
    }
}
