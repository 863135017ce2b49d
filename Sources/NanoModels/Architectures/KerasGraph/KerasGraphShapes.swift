import NanoTensor

/// Shape inference over a `KerasGraphConfiguration`: each layer's output shape without the batch
/// axis, checking on the way what the layers need of their inputs (an image for a convolution,
/// equal shapes for Add, …). A bad graph is a `ConfigError` naming the layer.
public enum KerasGraphShapes {
    public static func infer(_ c: KerasGraphConfiguration, file: String) throws -> [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        for (index, layer) in c.layers.enumerated() {
            let field = "model_config.config.layers[\(index)]"
            func fail(_ what: String) -> ConfigError {
                ConfigError(file: file, field: field, reason: "layer '\(layer.name)' (\(layer.kind.rawValue)): \(what)")
            }
            guard shapes[layer.name] == nil else { throw fail("a second layer of this name") }
            let inputs = try layer.inputs.map { name -> [Int] in
                guard let s = shapes[name] else { throw fail("reads '\(name)', which is not an earlier layer") }
                return s
            }
            func single() throws -> [Int] {
                guard inputs.count == 1 else { throw fail("has \(inputs.count) inputs where it takes one") }
                return inputs[0]
            }
            func image() throws -> [Int] {
                let s = try single()
                guard s.count == 3 else { throw fail("input shape \(s) is not an image [H, W, C]") }
                return s
            }
            let shape: [Int]
            switch layer.kind {
            case .input:
                guard inputs.isEmpty else { throw fail("an input layer reads nothing") }
                shape = c.inputShape
            case .conv2d, .depthwiseConv2d, .separableConv2d:
                let s = try image()
                let (h, w) = layer.geometry.outputSize(height: s[0], width: s[1])
                guard h > 0 && w > 0 else { throw fail("a \(layer.geometry) window leaves no output of input \(s)") }
                let multiplier = layer.depthMultiplier ?? 1
                switch layer.kind {
                case .depthwiseConv2d: shape = [h, w, s[2] * multiplier]
                default: shape = [h, w, layer.filters ?? 0]
                }
            case .maxPool2d, .avgPool2d:
                let s = try image()
                let (h, w) = layer.geometry.outputSize(height: s[0], width: s[1])
                guard h > 0 && w > 0 else { throw fail("a \(layer.geometry) window leaves no output of input \(s)") }
                shape = [h, w, s[2]]
            case .globalAvgPool2d:
                shape = [try image()[2]]
            case .batchNormalization:
                let s = try single()
                let axis = layer.axis ?? -1
                guard axis == -1 || axis == s.count else { throw fail("axis \(axis) is not the last axis of \(s) (nanoforge normalises channels-last)") }
                shape = s
            case .activation, .dropout:
                shape = try single()
            case .flatten:
                shape = [try single().reduce(1, *)]
            case .dense:
                let s = try single()
                guard !s.isEmpty else { throw fail("input has no feature axis") }
                shape = Array(s.dropLast()) + [layer.filters ?? 0]
            case .add:
                guard inputs.count >= 2, inputs.allSatisfy({ $0 == inputs[0] }) else { throw fail("adds shapes \(inputs), which differ") }
                shape = inputs[0]
            case .concatenate:
                guard inputs.count >= 2, inputs.allSatisfy({ $0.count == inputs[0].count }) else { throw fail("joins shapes \(inputs) of different ranks") }
                let rank = inputs[0].count
                let axis = try concatenationAxis(layer.axis ?? -1, rank: rank, fail: fail)
                for s in inputs where (0..<rank).contains(where: { $0 != axis && s[$0] != inputs[0][$0] }) {
                    throw fail("joins shapes \(inputs) that differ off axis \(layer.axis ?? -1)")
                }
                var joined = inputs[0]
                joined[axis] = inputs.map { $0[axis] }.reduce(0, +)
                shape = joined
            }
            shapes[layer.name] = shape
        }
        guard shapes[c.output] != nil else {
            throw ConfigError(file: file, field: "model_config.config.output_layers", reason: "output '\(c.output)' is not a layer")
        }
        return shapes
    }

    /// Keras's concatenation axis (counting the batch axis) as an axis of the batch-less shape.
    static func concatenationAxis(_ axis: Int, rank: Int, fail: (String) -> ConfigError) throws -> Int {
        let resolved = axis < 0 ? axis + rank : axis - 1
        guard resolved >= 0 && resolved < rank else { throw fail("axis \(axis) is outside a shape of rank \(rank) (plus the batch)") }
        return resolved
    }
}
