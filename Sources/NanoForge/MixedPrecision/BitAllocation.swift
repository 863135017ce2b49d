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
    ///
    /// Partial points keep a back-pointer (the point they extend, the option taken) rather than a
    /// copy of their choices, so a step costs O(points × options) whatever the number of layers
    /// (211 tensors of a 135 M-parameter decoder, thousands of frontier points); the choices are
    /// read back once, for the final frontier.
    public static func frontier(_ layers: [[Option]]) -> [Point] {
        struct Partial { var cost: Int; var loss: Double; var parent: Int32; var option: Int32 }
        var levels: [[Partial]] = []
        levels.reserveCapacity(layers.count)
        var points = [Partial(cost: 0, loss: 0, parent: -1, option: -1)]
        for options in layers {
            var next: [Partial] = []
            next.reserveCapacity(points.count * options.count)
            for (p, point) in points.enumerated() {
                for (i, o) in options.enumerated() {
                    next.append(Partial(cost: point.cost + o.cost, loss: point.loss + o.loss, parent: Int32(p), option: Int32(i)))
                }
            }
            next.sort { ($0.cost, $0.loss) < ($1.cost, $1.loss) }
            var kept: [Partial] = []
            for p in next where kept.last.map({ p.loss < $0.loss && p.cost > $0.cost }) ?? true { kept.append(p) }
            levels.append(kept)
            points = kept
        }
        return points.indices.map { index in
            var choices = [Int](repeating: 0, count: layers.count)
            var at = index
            for level in stride(from: layers.count - 1, through: 0, by: -1) {
                let p = levels[level][at]
                choices[level] = Int(p.option)
                at = Int(p.parent)
            }
            return Point(cost: points[index].cost, loss: points[index].loss, choices: choices)
        }
    }

    /// The least-loss allocation whose cost is at most `budget`, or nil if even the cheapest is over.
    public static func best(_ layers: [[Option]], budget: Int) -> Point? {
        frontier(layers).last { $0.cost <= budget }
    }
}
