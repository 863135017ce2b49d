/// Reverse-mode autodiff: a tape records each primitive op with its backward rule, in order;
/// `backward` walks it in reverse, which is a valid topological order by construction.
///
/// A tape built with `recording: false` runs the same forward code without keeping anything,
/// for inference. Tapes are cheap: make one per training step.
public final class Tape {
    /// Maps the output gradient to one gradient per input (nil where `needs` is false).
    public typealias Backward = (_ outputGrad: Tensor, _ needs: [Bool]) -> [Tensor?]

    struct Entry {
        let output: Variable
        let inputs: [Variable]
        let backward: Backward
    }

    public let isRecording: Bool
    private(set) var entries: [Entry] = []

    public init(recording: Bool = true) { self.isRecording = recording }

    /// A variable that no gradient flows to (data, masks, targets).
    public func constant(_ value: Tensor) -> Variable { Variable(value, requiresGrad: false) }

    /// Records the result of an op on `inputs`. The backward closure runs only if some input needs it.
    public func record(_ value: Tensor, inputs: [Variable], backward: @escaping Backward) -> Variable {
        let needsGrad = isRecording && inputs.contains { $0.requiresGrad }
        let output = Variable(value, requiresGrad: needsGrad)
        if needsGrad { entries.append(Entry(output: output, inputs: inputs, backward: backward)) }
        return output
    }

    /// Number of recorded ops (for tests and diagnostics).
    public var count: Int { entries.count }

    /// Back-propagates from `loss` (seeded with ones, or with `seed`), accumulating into the `grad`
    /// of every variable that requires it. Intermediate gradients are dropped as soon as they are
    /// used, and the tape is cleared afterwards.
    public func backward(from loss: Variable, seed: Tensor? = nil) {
        guard loss.requiresGrad else { return }
        loss.accumulate(seed ?? Tensor(repeating: 1, shape: loss.shape))
        for entry in entries.reversed() {
            guard let g = entry.output.grad else { continue }
            let needs = entry.inputs.map(\.requiresGrad)
            let grads = entry.backward(g, needs)
            precondition(grads.count == entry.inputs.count, "backward rule returned \(grads.count) gradients for \(entry.inputs.count) inputs")
            for (input, grad) in zip(entry.inputs, grads) where input.requiresGrad {
                if let grad { input.accumulate(grad) }
            }
            if entry.output !== loss { entry.output.grad = nil }
        }
        entries.removeAll()
    }
}
