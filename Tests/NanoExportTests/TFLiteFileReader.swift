/// Reads the parts of a `.tflite` file the TFLite tests check, straight from the bytes by the
/// FlatBuffers rules (uoffsets forward, vtables by soffset), with the schema.fbs field ids
/// written out here again: an independent reader, not the writer's own tables.
struct TFLiteFileReader {
    let bytes: [UInt8]

    struct Tensor: Equatable {
        var name: String
        var shape: [Int32]
        var type: Int8
        var buffer: UInt32
        var scales: [Float]
        var zeroPoints: [Int64]
        var quantizedDimension: Int32
    }

    struct Operator: Equatable {
        var builtinCode: Int32
        var inputs: [Int32]
        var outputs: [Int32]
        var optionsType: UInt8
    }

    func u8(_ p: Int) -> UInt8 { bytes[p] }
    func u16(_ p: Int) -> Int { Int(bytes[p]) | Int(bytes[p + 1]) << 8 }
    func u32(_ p: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[p + $1]) << (8 * UInt32($1)) } }
    func i32(_ p: Int) -> Int32 { Int32(bitPattern: u32(p)) }
    func i64(_ p: Int) -> Int64 { Int64(bitPattern: UInt64(u32(p)) | UInt64(u32(p + 4)) << 32) }

    var identifier: String { String(decoding: bytes[4..<8], as: UTF8.self) }
    var root: Int { Int(u32(0)) }

    /// The position of field `id` of the table at `table`, nil when absent.
    func field(_ table: Int, _ id: Int) -> Int? {
        let vtable = table - Int(i32(table))
        let entry = 4 + 2 * id
        guard entry < u16(vtable) else { return nil }
        let offset = u16(vtable + entry)
        return offset == 0 ? nil : table + offset
    }

    /// The table, vector or string a uoffset field points at.
    func target(_ table: Int, _ id: Int) -> Int? { field(table, id).map { $0 + Int(u32($0)) } }

    /// (first element, count) of a vector field.
    func vector(_ table: Int, _ id: Int) -> (start: Int, count: Int)? { target(table, id).map { ($0 + 4, Int(u32($0))) } }

    func tables(_ table: Int, _ id: Int) -> [Int] {
        guard let (start, count) = vector(table, id) else { return [] }
        return (0..<count).map { start + 4 * $0 + Int(u32(start + 4 * $0)) }
    }

    func int32s(_ table: Int, _ id: Int) -> [Int32] {
        guard let (start, count) = vector(table, id) else { return [] }
        return (0..<count).map { i32(start + 4 * $0) }
    }

    func string(_ table: Int, _ id: Int) -> String? {
        vector(table, id).map { String(decoding: bytes[$0.start..<($0.start + $0.count)], as: UTF8.self) }
    }

    // MARK: schema.fbs

    /// Model.version (0).
    var version: UInt32 { field(root, 0).map(u32) ?? 0 }
    /// Model.subgraphs (2), the first.
    var subgraph: Int { tables(root, 2)[0] }

    /// OperatorCode: deprecated_builtin_code (0, byte), version (2, default 1), builtin_code (3).
    var operatorCodes: [(deprecated: Int8, version: Int32, builtin: Int32)] {
        tables(root, 1).map { t in
            (field(t, 0).map { Int8(bitPattern: u8($0)) } ?? 0, field(t, 2).map(i32) ?? 1, field(t, 3).map(i32) ?? 0)
        }
    }

    /// Model.buffers (4): each Buffer's data (0), empty when absent; and where the data starts.
    var buffers: [(data: [UInt8], start: Int)] {
        tables(root, 4).map { t in
            guard let (start, count) = vector(t, 0) else { return ([], 0) }
            return (Array(bytes[start..<(start + count)]), start)
        }
    }

    /// SubGraph.tensors (0): shape (0), type (1), buffer (2), name (3), quantization (4) with
    /// scale (2), zero_point (3), quantized_dimension (6).
    var tensors: [Tensor] {
        tables(subgraph, 0).map { t in
            var tensor = Tensor(name: string(t, 3) ?? "", shape: int32s(t, 0), type: field(t, 1).map { Int8(bitPattern: u8($0)) } ?? 0,
                                buffer: field(t, 2).map(u32) ?? 0, scales: [], zeroPoints: [], quantizedDimension: 0)
            if let q = target(t, 4) {
                if let (start, count) = vector(q, 2) { tensor.scales = (0..<count).map { Float(bitPattern: u32(start + 4 * $0)) } }
                if let (start, count) = vector(q, 3) { tensor.zeroPoints = (0..<count).map { i64(start + 8 * $0) } }
                tensor.quantizedDimension = field(q, 6).map(i32) ?? 0
            }
            return tensor
        }
    }

    /// SubGraph.inputs (1), outputs (2).
    var inputs: [Int32] { int32s(subgraph, 1) }
    var outputs: [Int32] { int32s(subgraph, 2) }

    /// SubGraph.operators (3): opcode_index (0) resolved to its builtin code, inputs (1),
    /// outputs (2), builtin_options_type (3).
    var operators: [Operator] {
        let codes = operatorCodes
        return tables(subgraph, 3).map { t in
            Operator(builtinCode: codes[Int(field(t, 0).map(u32) ?? 0)].builtin, inputs: int32s(t, 1), outputs: int32s(t, 2),
                     optionsType: field(t, 3).map(u8) ?? 0)
        }
    }

    /// The builtin options table of operator `index` (Operator field 4).
    func options(ofOperator index: Int) -> Int? { target(tables(subgraph, 3)[index], 4) }
}
