import Foundation
import NanoCheckpoint
import TestSupport

/// What gguf-py's `GGUFReader` sees in a file, and how it measures the file against gguf-py's own
/// tables: tensor names outside `MODEL_TENSORS[arch]`, and required `gguf.Keys` that are missing.
struct GGUFPythonView: Decodable {
    struct Key: Decodable {
        let types: [String]
        let value: JSONish
    }
    struct Tensor: Decodable {
        let type: String
        /// ggml order (ne[0] first), as GGUFReader reports it.
        let ne: [Int]
        let bits: [UInt32]?
    }
    let keys: [String: Key]
    let tensors: [String: Tensor]
    let unknown_names: [String]
    let missing_keys: [String]

    /// Reads `path` with gguf-py; `bits` asks for every tensor's dequantized values; when
    /// `dequantizedTo` is given, the dequantized tensors are saved there as safetensors instead.
    static func read(_ path: String, architecture: String, bits: Bool = true, dequantizedTo: String? = nil) throws -> GGUFPythonView {
        try PythonRunner.require(modules: ["numpy", "gguf", "safetensors"])
        let output = try PythonRunner.run(script, arguments: [path, architecture, bits ? "bits" : "nobits", dequantizedTo ?? ""])
        return try JSONDecoder().decode(GGUFPythonView.self, from: Data(output.utf8))
    }

    static let script = """
    import json, sys
    import numpy as np
    import gguf
    from gguf import quants, Keys as K
    path, arch_name, want_bits, save_to = sys.argv[1:5]
    r = gguf.GGUFReader(path)
    keys = {}
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        try:
            v = f.contents()
        except Exception:   # gguf-py cannot decode nested arrays
            v = None
        if isinstance(v, (np.generic,)):
            v = v.item()
        keys[name] = {"types": [t.name for t in f.types], "value": v}
    arch = {"bert": gguf.MODEL_ARCH.BERT, "llama": gguf.MODEL_ARCH.LLAMA, "gpt2": gguf.MODEL_ARCH.GPT2}[arch_name]
    count_field = r.fields.get(K.LLM.BLOCK_COUNT.format(arch=arch_name))
    blocks = int(count_field.contents()) if count_field is not None else 0
    allowed = set()
    for t in gguf.MODEL_TENSORS[arch]:
        for bid in range(max(blocks, 1)):
            for suffix in (".weight", ".bias"):
                allowed.add(gguf.TENSOR_NAMES[t].format(bid=bid) + suffix)
    A = K.Attention
    required = [K.General.ARCHITECTURE, K.LLM.CONTEXT_LENGTH, K.LLM.EMBEDDING_LENGTH, K.LLM.FEED_FORWARD_LENGTH,
                K.LLM.BLOCK_COUNT, A.HEAD_COUNT]
    required += {"bert": [A.LAYERNORM_EPS, A.CAUSAL, K.LLM.POOLING_TYPE],
                 "llama": [A.HEAD_COUNT_KV, A.LAYERNORM_RMS_EPS, K.Rope.DIMENSION_COUNT, K.Rope.FREQ_BASE, K.LLM.VOCAB_SIZE],
                 "gpt2": [A.LAYERNORM_EPS]}[arch_name]
    if arch_name == "bert" and K.Tokenizer.LIST in r.fields:
        T = K.Tokenizer
        required += [T.MODEL, T.LIST, T.TOKEN_TYPE, T.TOKEN_TYPE_COUNT, T.BOS_ID, T.SEP_ID, T.UNK_ID, T.PAD_ID, T.MASK_ID]
    missing = [k.format(arch=arch_name) for k in required if k.format(arch=arch_name) not in r.fields]
    tensors, arrays = {}, {}
    for t in r.tensors:
        deq = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        entry = {"type": t.tensor_type.name, "ne": [int(d) for d in t.shape]}
        if want_bits == "bits":
            entry["bits"] = [int(b) for b in deq.view("<u4").ravel()]
        if save_to:
            arrays[t.name] = np.ascontiguousarray(deq.reshape([int(d) for d in reversed(t.shape)]))
        tensors[t.name] = entry
    if save_to:
        from safetensors.numpy import save_file
        save_file(arrays, save_to)
    print(json.dumps({"keys": keys, "tensors": tensors, "unknown_names": sorted(set(tensors) - allowed), "missing_keys": missing}))
    """
}

/// A JSON value as Python printed it.
indirect enum JSONish: Decodable, Equatable {
    case number(Double), bool(Bool), string(String), array([JSONish]), null

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else { self = .array(try c.decode([JSONish].self)) }
    }

    /// The same value as a typed GGUF value would print it.
    init(_ value: GGUFValue) {
        switch value {
        case .bool(let b): self = .bool(b)
        case .string(let s): self = .string(s)
        case .float32(let f): self = .number(Double(f))
        case .float64(let d): self = .number(d)
        case .array(_, let values): self = .array(values.map(JSONish.init))
        default: self = .number(Double(value.integer ?? 0))
        }
    }
}
