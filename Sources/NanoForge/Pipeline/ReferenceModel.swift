import NanoModels
import NanoTensor

extension EvaluatedModel {
    /// A second model with the same parameters, sharing their tensor storage: new layer objects
    /// (the family builds them from the spec) whose `Tensor`s are copy-on-write copies of this
    /// model's, so nothing is duplicated until a pass replaces or writes a weight, and then only
    /// that weight. Linear layers keep their input and weight transforms (the activation
    /// quantization of a model compressed before). The pipeline's reference model is such a copy
    /// of the working one: MiniLM's embeddings (47 MB of its 91) and every tensor a stage leaves
    /// alone are held once. Nil for the packed runtime's encoder.
    func sharingCopy() -> EvaluatedModel? {
        guard let model, let input else { return nil }
        let parameters = model.container.namedParameters
        var rng = RandomGenerator(seed: 0)
        let built = model.spec.build(parameterPaths: Set(parameters.map(\.name)), rng: &rng)
        let copies = built.container.namedParameters
        guard copies.map({ $0.name }) == parameters.map({ $0.name }) else { return nil }
        for (original, copy) in zip(parameters, copies) {
            guard original.variable.value.shape == copy.variable.value.shape else { return nil }
            copy.variable.value = original.variable.value
        }
        let copy = EvaluatedModel(built, input: input)
        for (original, new) in zip(linearLayers, copy.linearLayers) {
            new.layer.inputTransform = original.layer.inputTransform
            new.layer.weightTransform = original.layer.weightTransform
            new.layer.inputObserver = original.layer.inputObserver
        }
        return copy
    }
}
