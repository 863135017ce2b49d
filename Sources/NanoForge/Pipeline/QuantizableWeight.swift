import NanoModels
import NanoTensor

/// A weight a quantizing pass may replace: a Linear layer's, or an embedding table's (rows are
/// channels either way). `linear` is the layer when there is one: only Linear layers have the
/// calibration inputs GPTQ and activation quantization need.
struct QuantizableWeight {
    let name: String
    let weight: Variable
    let linear: Linear?
}
