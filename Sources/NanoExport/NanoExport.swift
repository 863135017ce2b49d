/// NanoExport writes compressed models into the formats other runtimes load: ONNX, GGUF and C
/// sources for microcontrollers. Each format lives in its own folder; every writer is checked by
/// the reference reader of its format in the tests.
public enum NanoExport {}
