/// Chooses one option per layer (a bit width, with its cost and predicted loss) so that the total
/// cost meets a budget at the least total predicted loss: the multiple-choice knapsack, solved
/// exactly by dynamic programming over layers on Pareto frontiers.
///
/// After layer k the frontier holds every reachable (cost, loss) of the first k layers that no
/// other reachable pair beats on both; extending it by layer k+1's options and pruning dominated
/// pairs again keeps it exact, since a dominated partial choice can never complete to a better
/// whole. Costs are integers (bytes or bits), so ties are exact. Losses are assumed additive over
/// layers (each layer's loss measured alone), which the report checks against the measured loss.
public enum BitAllocation {
    public struct Option: Equatable, Sendable {
        public var bits: Int
        public var cost: Int
        public var loss: Double
        public init(bits: Int, cost: Int, loss: Double) { self.bits = bits; self.cost = cost; self.loss = loss }
    }

    /// One point of the frontier: total cost and loss, and the option index chosen per layer.
    public struct Point: Equatable, Sendable {
        public var cost: Int
        public var loss: Double
        public var choices: [Int]
    }

    /// Every Pareto-optimal allocation, by ascending cost (and strictly descending loss).
    public static func frontier(_ layers: [[Option]]) -> [Point] {
        var points = [Point(cost: 0, loss: 0, choices: [])]
        for options in layers {
            var next: [Point] = []
            next.reserveCapacity(points.count * options.count)
            for p in points {
                for (i, o) in options.enumerated() {
                    next.append(Point(cost: p.cost + o.cost, loss: p.loss + o.loss, choices: p.choices + [i]))
                }
            }
            points = pareto(next)
        }
        return points
    }

    /// The least-loss allocation whose cost is at most `budget`, or nil if even the cheapest is over.
    public static func best(_ layers: [[Option]], budget: Int) -> Point? {
        frontier(layers).last { $0.cost <= budget }
    }

    /// Keeps the points no other point beats: sorted by cost, each kept point has a strictly
    /// lower loss than every cheaper one (at equal cost, the lower loss).
    static func pareto(_ points: [Point]) -> [Point] {
        let sorted = points.sorted { ($0.cost, $0.loss) < ($1.cost, $1.loss) }
        var kept: [Point] = []
        for p in sorted where kept.last.map({ p.loss < $0.loss && p.cost > $0.cost }) ?? true {
            kept.append(p)
        }
        return kept
    }
}
