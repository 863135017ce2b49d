/// nanoforge's compression layer: recipes, the pass registry and its passes, quantized and sparse
/// weight formats, evaluation tasks and the report.
public enum NanoForgeVersion {
    public static let string = "0.1.0"
}
