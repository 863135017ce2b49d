/// NanoQuant is what the compressor (NanoForge), the exporters (NanoExport) and the packed runtime
/// (NanoRuntime) share about quantized models: the quantization numerics (grids, rounding, bit
/// packing, `QuantizedTensor`), the packed checkpoint format (`PackedCheckpoint`, `PackedLayer`,
/// `ActivationMetadata`), loading a packed model (`PackedModel`) and the provenance every output
/// records (`NanoForgeVersion`, `MetricsJSON`). Algorithms that produce quantized weights (RTN,
/// GPTQ, LSQ training) stay in NanoForge.
public enum NanoQuant {}
