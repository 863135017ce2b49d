import NanoQuant
import NanoTensor

extension PassContext {
    /// llama-imatrix's statistics of the named Linear layers over the calibration inputs: per
    /// layer, Σx² of each input column over every real (unpadded) token row entering it, and the
    /// row count (`ImportanceMatrix.accumulate`). Keys are nanoforge's layer names;
    /// `importance(for:)` gives the per-column weights of
    /// `GGMLQuantizedTensor.roundToNearest(_:as:importance:)`. A layer no input reached has no entry.
    func importanceMatrix(for names: [String], in state: CompressionState) throws -> ImportanceMatrix {
        let wanted = Set(names)
        var matrix = ImportanceMatrix(datasets: [recipe.calibration?.path ?? "data.calibration"])
        var problem: Error?
        try calibrationData(state).forEachLinearInput(state.model) { name, input, rowMask in
            guard wanted.contains(name), problem == nil else { return }
            do {
                try matrix.accumulate(name, activations: CalibrationData.realRows(input, rowMask))
            } catch { problem = error }
        }
        if let problem { throw failure("\(problem)") }
        return matrix
    }
}
