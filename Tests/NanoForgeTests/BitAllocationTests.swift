import Testing
@testable import NanoForge
import NanoTensor

/// The Pareto dynamic programme is exact: on random instances it finds the same least loss under
/// every budget as trying all allocations.
@Suite struct BitAllocationTests {
    static func instance(seed: UInt64, layers: Int, options: Int) -> [[BitAllocation.Option]] {
        var rng = RandomGenerator(seed: seed)
        return (0..<layers).map { _ in
            let sizes = rng.uniform(shape: [options], low: 1, high: 40).scalars.map { Int($0) }.sorted()
            // Losses fall as cost grows, with noise, as sensitivities do (but not always strictly).
            return (0..<options).map { i in
                BitAllocation.Option(bits: 2 + i, cost: sizes[i] + i, loss: Double(rng.uniform(shape: [1], low: 0, high: 1).scalars[0]) / Double(i + 1))
            }
        }
    }

    static func bruteForce(_ layers: [[BitAllocation.Option]], budget: Int) -> Double? {
        var best: Double?
        func visit(_ k: Int, _ cost: Int, _ loss: Double) {
            guard cost <= budget else { return }
            if k == layers.count { best = min(best ?? .infinity, loss); return }
            for o in layers[k] { visit(k + 1, cost + o.cost, loss + o.loss) }
        }
        visit(0, 0, 0)
        return best
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func matchesExhaustiveSearch(seed: UInt64) {
        let layers = Self.instance(seed: seed, layers: 6, options: 4)
        let frontier = BitAllocation.frontier(layers)
        // Strictly increasing cost and strictly decreasing loss along the frontier.
        for (a, b) in zip(frontier, frontier.dropFirst()) { #expect(a.cost < b.cost && a.loss > b.loss) }
        let cheapest = layers.reduce(0) { $0 + $1.map(\.cost).min()! }
        let dearest = layers.reduce(0) { $0 + $1.map(\.cost).max()! }
        for budget in stride(from: cheapest - 1, through: dearest + 1, by: 3) {
            let expected = Self.bruteForce(layers, budget: budget)
            let found = BitAllocation.best(layers, budget: budget)
            #expect((found == nil) == (expected == nil), "budget \(budget)")
            if let found, let expected {
                #expect(abs(found.loss - expected) < 1e-12, "budget \(budget): \(found.loss) vs \(expected)")
                #expect(found.cost <= budget)
                let recomputed = found.choices.enumerated().reduce(0.0) { $0 + layers[$1.offset][$1.element].loss }
                #expect(abs(recomputed - found.loss) < 1e-12)
            }
        }
    }
}
