/// A ggml tensor element type as GGUF numbers it (`ggml_type`), with its block geometry.
/// Every type ggml defines is known by name and size, so offsets and sizes of any file can be
/// checked; the types small models' files use can be dequantized (`isReadable`, `readable`).
public struct GGUFTensorType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let f32 = GGUFTensorType(rawValue: 0)
    public static let f16 = GGUFTensorType(rawValue: 1)
    public static let q4_0 = GGUFTensorType(rawValue: 2)
    public static let q4_1 = GGUFTensorType(rawValue: 3)
    public static let q5_0 = GGUFTensorType(rawValue: 6)
    public static let q5_1 = GGUFTensorType(rawValue: 7)
    public static let q8_0 = GGUFTensorType(rawValue: 8)
    public static let iq4_nl = GGUFTensorType(rawValue: 20)
    public static let q2_K = GGUFTensorType(rawValue: 10)
    public static let q3_K = GGUFTensorType(rawValue: 11)
    public static let q4_K = GGUFTensorType(rawValue: 12)
    public static let q5_K = GGUFTensorType(rawValue: 13)
    public static let q6_K = GGUFTensorType(rawValue: 14)
    public static let bf16 = GGUFTensorType(rawValue: 30)

    /// The types nanoforge dequantizes (`GGUFBlocks.decode`), bit-identical to gguf-py. Others
    /// (the other IQ*, TQ*, MXFP4, Q8_1, Q8_K, integer types) are refused by name.
    public static let readable: [GGUFTensorType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .iq4_nl,
                                                    .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// ggml's table (ggml.c `type_traits`, gguf-py `GGML_QUANT_SIZES`): id → (name, elements per
    /// block, bytes per block). Ids 4, 5, 31–33, 36–38 were retired and are absent.
    static let table: [UInt32: (name: String, blockSize: Int, typeSize: Int)] = [
        0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
        6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
        10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
        14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74),
        18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
        22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
        26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
        30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
    ]

    /// Whether ggml defines this id.
    public var isKnown: Bool { Self.table[rawValue] != nil }
    /// Whether nanoforge can dequantize it to Float32.
    public var isReadable: Bool { Self.readable.contains(self) }
    /// ggml's name (`Q8_0`), or `type id N` for an id ggml does not define.
    public var name: String { Self.table[rawValue]?.name ?? "type id \(rawValue)" }
    public var description: String { name }
    /// Elements per block (1 for plain types); 0 for an unknown id.
    public var blockSize: Int { Self.table[rawValue]?.blockSize ?? 0 }
    /// Bytes per block; 0 for an unknown id.
    public var typeSize: Int { Self.table[rawValue]?.typeSize ?? 0 }
    /// Stored bits per element, block scales included (Q4_1: 20 bytes per 32 = 5.0); 0 for an unknown id.
    public var bitsPerWeight: Double { blockSize > 0 ? Double(8 * typeSize) / Double(blockSize) : 0 }

    /// The type with ggml's name (case-insensitive), if any.
    public init?(name: String) {
        guard let id = Self.table.first(where: { $0.value.name.lowercased() == name.lowercased() })?.key else { return nil }
        self.init(rawValue: id)
    }

    /// Bytes of `elements` values with rows of `rowLength` (ne[0]); nil when the row is not a whole
    /// number of blocks or the count overflows.
    public func byteCount(elements: Int, rowLength: Int) -> Int? {
        guard blockSize > 0, rowLength % blockSize == 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: typeSize)
        return overflow ? nil : bytes
    }
}
