/// Row streaming for the C export of an `IntegerCNN` (here, beside the model, so the report's RAM
/// figure and `model.h` come from the same plan): instead of running each operation over its
/// whole output before the next one starts, the operations are interleaved row by row, pulled
/// from the logits backwards (to compute output row r, an operation first makes sure its inputs
/// have the rows r needs), so a tensor between row-wise operations only ever holds the rows still
/// to be read: a ring of a few rows instead of the whole feature map. The arithmetic of every
/// output value is unchanged; only the order of the work and where rows are kept differ, so the C
/// output stays bit-identical to `IntegerCNN.run`.
///
/// Row-wise operations: convolutions and max pooling (output row r reads the input rows its
/// window covers) and the elementwise Add and clamp (row r reads row r). Global average pooling
/// reads its whole input, which is therefore kept whole; so are the model's input and its logits.
/// A ring's row count is the widest window of rows ever needed at once, measured by replaying the
/// schedule, with every consumer of the tensor at its own pace (a residual block's input feeds a
/// strided 1×1 convolution and a 3×3 one).
public struct RowSchedule: Equatable, Sendable {
    /// `rows` output rows of `operation`, continuing where its previous step stopped.
    public struct Step: Equatable, Sendable {
        public var operation: Int
        public var rows: Int

        public init(operation: Int, rows: Int) { self.operation = operation; self.rows = rows }
    }

    public var steps: [Step]
    /// Rows each tensor keeps (its height when kept whole); its bytes are ringRows · rowBytes.
    public var ringRows: [Int]
    /// Bytes of one row of each tensor (the whole tensor for one without rows).
    public var rowBytes: [Int]
    /// Each tensor's life in step indices: from the step that first writes it (−1: the input) to
    /// the last step of its last reader (steps.count: the output, read after the run).
    public var lifetimes: [(first: Int, last: Int)]

    public static func == (a: RowSchedule, b: RowSchedule) -> Bool {
        a.steps == b.steps && a.ringRows == b.ringRows && a.rowBytes == b.rowBytes
            && a.lifetimes.map(\.first) == b.lifetimes.map(\.first) && a.lifetimes.map(\.last) == b.lifetimes.map(\.last)
    }

    /// Bytes each tensor occupies in the arena.
    public var sizes: [Int] { zip(ringRows, rowBytes).map { $0 * $1 } }

    /// Rows of a tensor: the height of an [h, w, c] feature map, 1 for a feature vector.
    public static func height(_ t: IntegerCNN.ActivationTensor) -> Int { t.shape.count == 3 ? t.shape[0] : 1 }

    /// Whether `op` can produce its output row by row.
    public static func isRowWise(_ op: IntegerCNN.Operation) -> Bool {
        if case .globalAveragePool = op.kind { return false }
        return true
    }

    /// The input rows (first, last) that output row `r` of `op` reads from `op.inputs[k]`.
    public static func inputRows(_ model: IntegerCNN, _ op: IntegerCNN.Operation, output r: Int, input k: Int) -> (first: Int, last: Int) {
        let inHeight = height(model.tensors[op.inputs[k]])
        switch op.kind {
        case .convolution(let c): return windowRows(c.window, r, inHeight)
        case .maxPool(let w): return windowRows(w, r, inHeight)
        case .globalAveragePool: return (0, inHeight - 1)
        case .add, .clamp: return (r, r)
        }
    }

    public static func windowRows(_ w: IntegerKernels.Window, _ r: Int, _ inHeight: Int) -> (first: Int, last: Int) {
        let top = r * w.strideHeight - w.padTop
        return (Swift.max(0, top), Swift.min(inHeight - 1, top + (w.kernelHeight - 1) * w.dilationHeight))
    }

    /// Each operation over its whole output in turn, every tensor kept whole (lifetimes as
    /// `ArenaPlan` plans them by operation).
    public init(wholeTensorsOf model: IntegerCNN) {
        let heights = model.tensors.map(Self.height)
        steps = model.operations.indices.map { Step(operation: $0, rows: heights[model.operations[$0].output]) }
        ringRows = heights
        rowBytes = model.tensors.indices.map { model.tensors[$0].count / heights[$0] }
        var lifetimes = [(first: Int, last: Int)](repeating: (0, 0), count: model.tensors.count)
        for (i, op) in model.operations.enumerated() { lifetimes[op.output] = (i, i) }
        lifetimes[model.input] = (-1, -1)
        for (i, op) in model.operations.enumerated() {
            for t in op.inputs { lifetimes[t].last = Swift.max(lifetimes[t].last, i) }
        }
        lifetimes[model.output].last = model.operations.count
        self.lifetimes = lifetimes
    }

    public init(_ model: IntegerCNN) {
        let tensors = model.tensors, operations = model.operations
        var producer = [Int?](repeating: nil, count: tensors.count)
        var consumers = [[Int]](repeating: [], count: tensors.count)
        for (i, op) in operations.enumerated() {
            producer[op.output] = i
            for t in Set(op.inputs) { consumers[t].append(i) }
        }
        let heights = tensors.map(Self.height)
        rowBytes = tensors.indices.map { tensors[$0].count / heights[$0] }
        // A ring needs a row-wise producer and row-wise readers only; the input and logits stay whole.
        let ringable = tensors.indices.map { t in
            t != model.input && t != model.output && producer[t].map { Self.isRowWise(operations[$0]) } == true
                && consumers[t].allSatisfy { Self.isRowWise(operations[$0]) }
        }
        var produced = heights.indices.map { $0 == model.input ? heights[$0] : 0 }
        var ring = heights.indices.map { ringable[$0] ? 1 : heights[$0] }
        var steps: [Step] = []

        /// The first row of `t` some reader still needs (its height when none does).
        func oldestNeeded(_ t: Int) -> Int {
            var oldest = heights[t]
            for c in consumers[t] {
                let op = operations[c], next = produced[op.output]
                guard next < heights[op.output] else { continue }
                for k in op.inputs.indices where op.inputs[k] == t {
                    oldest = Swift.min(oldest, Self.inputRows(model, op, output: next, input: k).first)
                }
            }
            return oldest
        }

        func ensure(_ t: Int, rows n: Int) {
            while produced[t] < n {
                let i = producer[t]!, op = operations[i], r = produced[t]
                for k in op.inputs.indices { ensure(op.inputs[k], rows: Self.inputRows(model, op, output: r, input: k).last + 1) }
                if ringable[t] { ring[t] = Swift.max(ring[t], r + 1 - Swift.min(oldestNeeded(t), r)) }
                if let last = steps.last, last.operation == i { steps[steps.count - 1].rows += 1 } else { steps.append(Step(operation: i, rows: 1)) }
                produced[t] = r + 1
            }
        }
        ensure(model.output, rows: heights[model.output])
        self.steps = steps
        self.ringRows = ring

        var lifetimes = [(first: Int, last: Int)](repeating: (Int.max, -1), count: tensors.count)
        lifetimes[model.input] = (-1, -1)
        for (s, step) in steps.enumerated() {
            let op = operations[step.operation]
            lifetimes[op.output].first = Swift.min(lifetimes[op.output].first, s)
            lifetimes[op.output].last = Swift.max(lifetimes[op.output].last, s)
            for t in op.inputs { lifetimes[t].last = Swift.max(lifetimes[t].last, s) }
        }
        lifetimes[model.output].last = steps.count
        // A tensor no step touches (an operation the logits do not depend on) takes no room.
        for t in lifetimes.indices where lifetimes[t].first == Int.max { lifetimes[t] = (-2, -2); ring[t] = 0 }
        self.ringRows = ring
        self.lifetimes = lifetimes
    }
}
