import Foundation
import NanoTensor
import TestSupport

/// Runs an exported ONNX file through the reference tools: `onnx.checker.check_model(full_check=True)`,
/// then onnxruntime's CPUExecutionProvider on the given inputs. Returns the requested outputs,
/// the model's metadata and the set of op types (`domain::Op` outside the default domain).
///
/// `outputs` come from a session with basic graph optimizations only (and
/// `session.qdq_matmulnbits_accuracy_level = 0`): the graph's arithmetic as written.
/// `defaultOutputs` come from a session with onnxruntime's defaults, as a user would open the
/// file: its extended optimizations fuse patterns (an int8 DequantizeLinear → MatMul would become
/// a MatMulNBits with int8 activations, which is why nanoforge writes MatMulNBits itself).
enum ONNXRuntimeHarness {
    struct Output: Decodable {
        let shape: [Int]
        let values: [Double]
        var tensor: Tensor { Tensor(shape: shape, scalars: values.map(Float.init)) }
    }

    struct Result: Decodable {
        let outputs: [String: Output]
        let metadata: [String: String]
        let defaultOutputs: [String: Output]
        let ops: [String]
        let inputs: [String]
        let outputNames: [String]
        let irVersion: Int
        let opsets: [String: Int]
    }

    /// One graph input: numpy dtype name ("int64", "float32"), shape and values.
    struct Input {
        var dtype: String
        var shape: [Int]
        var values: [Double]

        static func int64(_ shape: [Int], _ values: [Int]) -> Input { Input(dtype: "int64", shape: shape, values: values.map(Double.init)) }
        static func float32(_ t: Tensor) -> Input { Input(dtype: "float32", shape: t.shape, values: t.scalars.map(Double.init)) }
    }

    static let script = """
    import json, sys
    import numpy as np
    import onnx, onnxruntime as ort
    model_path, inputs_path, wanted = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    onnx.checker.check_model(model_path, full_check=True)
    m = onnx.load(model_path)
    with open(inputs_path) as f:
        spec = json.load(f)
    feeds = {k: np.array(v["values"], dtype=v["dtype"]).reshape(v["shape"]) for k, v in spec.items()}
    exact = ort.SessionOptions()
    exact.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "0")
    # Extended optimizations fuse activation QDQ into u8s8 integer kernels whose AVX2 path
    # saturates 16-bit pair sums; basic optimizations keep the graph's arithmetic.
    exact.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    sess = ort.InferenceSession(model_path, exact, providers=["CPUExecutionProvider"])
    default = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    def encode(values):
        return {n: {"shape": list(v.shape), "values": v.astype(np.float64).ravel().tolist()}
                for n, v in zip(names, values) if n in wanted}
    print(json.dumps({
        "outputs": encode(sess.run(None, feeds)),
        "defaultOutputs": encode(default.run(None, feeds)),
        "metadata": {p.key: p.value for p in m.metadata_props},
        "ops": sorted({(n.domain + "::" if n.domain else "") + n.op_type for n in m.graph.node}),
        "inputs": [i.name for i in sess.get_inputs()],
        "outputNames": names,
        "irVersion": m.ir_version,
        "opsets": {o.domain: o.version for o in m.opset_import},
    }))
    """

    static func run(model path: String, inputs: [String: Input], outputs: [String]) throws -> Result {
        try PythonRunner.require(modules: ["numpy", "onnx", "onnxruntime"])
        let spec = inputs.mapValues { ["dtype": $0.dtype, "shape": $0.shape, "values": $0.values] as [String: Any] }
        let inputsPath = path + ".inputs.json"
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: inputsPath))
        let out = try PythonRunner.run(script, arguments: [path, inputsPath, outputs.joined(separator: ",")])
        return try JSONDecoder().decode(Result.self, from: Data(out.utf8))
    }
}

/// Comparisons between onnxruntime's outputs and nanoforge's.
enum ONNXComparison {
    static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape, "compare: shapes \(a.shape) and \(b.shape)")
        return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// The cosine similarity of each row of two [N, D] matrices.
    static func rowCosines(_ a: Tensor, _ b: Tensor) -> [Double] {
        precondition(a.shape == b.shape && a.rank == 2, "cosines: shapes \(a.shape) and \(b.shape)")
        let d = a.shape[1]
        return (0..<a.shape[0]).map { r in
            var dot = 0.0, na = 0.0, nb = 0.0
            for j in 0..<d {
                let x = Double(a.scalars[r * d + j]), y = Double(b.scalars[r * d + j])
                dot += x * y; na += x * x; nb += y * y
            }
            return dot / max((na * nb).squareRoot(), 1e-30)
        }
    }
}
