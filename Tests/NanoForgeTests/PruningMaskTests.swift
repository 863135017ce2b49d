import Testing
import NanoForge
import NanoModels
import NanoTensor

/// Unstructured and N:M mask selection: exact sparsity, determinism, Wanda against magnitude.
struct PruningMaskTests {
    static func layers(seed: UInt64, shapes: [(Int, Int)]) -> [(name: String, layer: Linear)] {
        var rng = RandomGenerator(seed: seed)
        return shapes.enumerated().map { ("layer\($0.offset)", Linear($0.element.1, $0.element.0, rng: &rng)) }
    }

    @Test func patternParsingAndValidation() throws {
        #expect(try SparsityPattern(parsing: "2:4") == .nOfM(n: 2, m: 4))
        #expect(try SparsityPattern(parsing: "unstructured") == .unstructured)
        #expect(throws: PruningError.self) { try SparsityPattern(parsing: "3:2") }
        #expect(throws: PruningError.self) { try SparsityPattern(parsing: "0:4") }
        #expect(throws: PruningError.self) { try SparsityPattern(parsing: "2-4") }
        #expect(throws: PruningError.patternDoesNotDivide(layer: "l", inputWidth: 10, m: 4)) {
            try SparsityPattern.nOfM(n: 2, m: 4).validate(inputWidth: 10, layer: "l")
        }
        #expect(throws: PruningError.self) { try UnstructuredPruning(.init(sparsity: 1.2)) }
        #expect(throws: PruningError.self) { try UnstructuredPruning(.init(sparsity: 0.3, pattern: .nOfM(n: 2, m: 4))) }
    }

    @Test func maskBitsAndApply() {
        let keep = (0..<130).map { $0 % 3 != 0 }
        let mask = SparsityMask(shape: [10, 13], keep: keep)
        #expect(mask.prunedCount == 44 && mask.keptCount == 86)
        #expect(mask.sparsity == 44.0 / 130.0)
        let applied = mask.apply(to: Tensor(repeating: 2, shape: [10, 13]))
        #expect(applied.scalars == keep.map { $0 ? 2 : 0 })
        #expect(SparsityMask(nonZerosOf: applied) == mask)
        #expect(SparsityMask(keepingAll: [3, 50]).sparsity == 0)
    }

    @Test(arguments: [0.0, 0.1, 0.33, 0.5, 0.77, 0.9])
    func exactSparsityPerLayer(sparsity: Double) throws {
        for method in PruningMethod.allCases {
            let layers = Self.layers(seed: 3, shapes: [(7, 13), (16, 24)])
            let norms = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, (0..<$0.layer.inFeatures).map { Float($0 % 5 + 1) }) })
            let results = try UnstructuredPruning(.init(method: method, sparsity: sparsity, scope: .layer)).apply(to: layers, inputNorms: norms)
            for (result, (_, layer)) in zip(results, layers) {
                let n = layer.weight.value.count
                #expect(result.mask.prunedCount == Int((sparsity * Double(n)).rounded()), "\(method) \(result.name)")
                #expect(layer.weight.value.scalars.filter { $0 == 0 }.count == result.mask.prunedCount)
            }
        }
    }

    @Test(arguments: [0.25, 0.5, 0.6])
    func exactSparsityGlobal(sparsity: Double) throws {
        for method in PruningMethod.allCases {
            let layers = Self.layers(seed: 5, shapes: [(7, 13), (16, 24), (3, 8)])
            let norms = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, [Float](repeating: 1.5, count: $0.layer.inFeatures)) })
            let results = try UnstructuredPruning(.init(method: method, sparsity: sparsity, scope: .global)).masks(for: layers, inputNorms: norms)
            let total = layers.reduce(0) { $0 + $1.layer.weight.value.count }
            #expect(results.reduce(0) { $0 + $1.mask.prunedCount } == Int((sparsity * Double(total)).rounded()))
            #expect(abs(overallSparsity(results.map(\.mask)) - Double(Int((sparsity * Double(total)).rounded())) / Double(total)) < 1e-12)
            // One threshold: every pruned magnitude is ≤ every kept one.
            var pruned: [Float] = [], kept: [Float] = []
            for (r, (_, l)) in zip(results, layers) {
                for i in 0..<r.mask.count { (r.mask[i] ? { kept.append(abs(l.weight.value.scalars[i])) } : { pruned.append(abs(l.weight.value.scalars[i])) })() }
            }
            #expect((pruned.max() ?? 0) <= (kept.min() ?? .infinity))
        }
    }

    @Test(arguments: [(2, 4), (4, 8), (1, 4)])
    func nOfMKeepsExactlyNPerGroup(n: Int, m: Int) throws {
        for method in PruningMethod.allCases {
            let layers = Self.layers(seed: 9, shapes: [(6, 16), (5, 32)])
            let norms = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, (0..<$0.layer.inFeatures).map { Float($0 % 7) + 0.5 }) })
            let results = try UnstructuredPruning(.init(method: method, pattern: .nOfM(n: n, m: m))).apply(to: layers, inputNorms: norms)
            for (r, (_, l)) in zip(results, layers) {
                #expect(r.sparsity == Double(m - n) / Double(m))
                for g in stride(from: 0, to: r.mask.count, by: m) {
                    #expect((g..<g + m).filter { r.mask[$0] }.count == n)
                    #expect((g..<g + m).filter { l.weight.value.scalars[$0] == 0 }.count == m - n)
                }
            }
        }
    }

    @Test func masksAreDeterministicWithTies() throws {
        let w = Tensor(shape: [2, 8], scalars: [1, 1, 1, 1, 2, 2, 2, 2, -1, 1, -1, 1, 0, 0, 3, 3])
        let pass = try UnstructuredPruning(.init(sparsity: 0.5))
        let a = try pass.masks(for: [("x", Linear(weight: w, bias: nil))])
        let b = try pass.masks(for: [("x", Linear(weight: w, bias: nil))])
        #expect(a == b)
        #expect(a[0].mask.prunedCount == 8)
        // Ties by position: the zeros, then the first six of the |w| = 1 weights.
        #expect((0..<16).map { a[0].mask[$0] } == [false, false, false, false, true, true, true, true,
                                                   false, false, true, true, false, false, true, true])
        let nm = try UnstructuredPruning(.init(pattern: .nOfM(n: 2, m: 4))).masks(for: [("x", Linear(weight: w, bias: nil))])
        #expect((0..<4).map { nm[0].mask[$0] } == [true, true, false, false])
    }

    @Test func wandaEqualsMagnitudeForUniformNormsAndDiffersOtherwise() throws {
        let layers = Self.layers(seed: 21, shapes: [(12, 32)])
        let uniform = ["layer0": [Float](repeating: 3, count: 32)]
        let skewed = ["layer0": (0..<32).map { Float($0 % 4 == 0 ? 50 : 1) }]
        for pattern in [SparsityPattern.unstructured, .nOfM(n: 2, m: 4)] {
            let sparsity: Double? = pattern == .unstructured ? 0.5 : nil
            // Row-wise comparison for Wanda: compare against magnitude with the same grouping.
            let magnitude = try UnstructuredPruning(.init(method: .magnitude, sparsity: sparsity, pattern: pattern, scope: .global)).masks(for: layers)
            let wandaUniform = try UnstructuredPruning(.init(method: .wanda, sparsity: sparsity, pattern: pattern, scope: .global)).masks(for: layers, inputNorms: uniform)
            let wandaSkewed = try UnstructuredPruning(.init(method: .wanda, sparsity: sparsity, pattern: pattern, scope: .global)).masks(for: layers, inputNorms: skewed)
            #expect(wandaUniform == magnitude, "\(pattern)")
            #expect(wandaSkewed != magnitude, "\(pattern)")
            // Features with large norms are kept more often.
            let keptLarge = (0..<384).filter { $0 % 4 == 0 && wandaSkewed[0].mask[$0] }.count
            #expect(keptLarge > (0..<384).filter { $0 % 4 == 0 && magnitude[0].mask[$0] }.count)
        }
        #expect(throws: PruningError.missingActivationNorms(layer: "layer0")) {
            try UnstructuredPruning(.init(method: .wanda, sparsity: 0.5)).masks(for: layers)
        }
    }

    @Test func wandaLayerScopeComparesPerRow() throws {
        let layers = Self.layers(seed: 4, shapes: [(10, 16)])
        let norms = ["layer0": (0..<16).map { Float($0 + 1) }]
        let r = try UnstructuredPruning(.init(method: .wanda, sparsity: 0.5, scope: .layer)).masks(for: layers, inputNorms: norms)
        for row in 0..<10 { #expect((0..<16).filter { !r[0].mask[row * 16 + $0] }.count == 8) }
    }

    @Test func activationNormAccumulatorSkipsPadding() {
        var acc = ActivationNormAccumulator(features: 3)
        acc.add(Tensor(shape: [2, 2, 3], scalars: [1, 2, 3, 100, 100, 100, 2, 0, 4, 0, 0, 0]), rowMask: [1, 0, 1, 1])
        acc.add(Tensor(shape: [1, 3], scalars: [2, 0, 0]))
        #expect(acc.tokenCount == 4)
        #expect(acc.sumOfSquares == [9, 4, 25])
        #expect(acc.norms == [3, 2, 5])
    }
}
