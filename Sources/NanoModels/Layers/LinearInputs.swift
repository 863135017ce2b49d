import NanoTensor

/// Collects the inputs of a model's Linear layers during its ordinary forward pass, through
/// `Linear.inputObserver`: GPTQ's Hessians, Wanda's norms and activation observers all read them
/// this way, so no pass repeats a model's forward code.
public enum LinearInputs {
    /// Installs an observer on each of `layers`, runs `forward`, and removes the observers again.
    /// `visit(name, input)` gets each layer's input as [rows, in], in call order.
    public static func observe(_ layers: [(name: String, layer: Linear)], during forward: () -> Void,
                               _ visit: (String, Tensor) -> Void) {
        withoutActuallyEscaping(visit) { visit in
            for (name, layer) in layers { layer.inputObserver = { visit(name, $0) } }
            defer { for (_, layer) in layers { layer.inputObserver = nil } }
            forward()
        }
    }
}
