import NanoCheckpoint

/// Which ggml type a weight gets when its rows are not whole blocks of the type asked for (the
/// K-quants' 256-element super-blocks against a width of 576, say): the fallback llama.cpp's
/// `llama-quantize` uses (`tensor_type_fallback` in llama-quant.cpp, llama-cpp-python 0.3.36),
/// or one the caller names.
public enum GGMLTypeFallback {
    /// The 32-element block types, the ones a fallback can be (they fit any row of whole 32s).
    public static let blockOf32Types: [GGUFTensorType] = GGUFBlockEncoder.encodable.filter { $0.blockSize == 32 }

    /// llama.cpp's fallback for a type: Q2_K, Q3_K → Q4_0; Q4_K → Q5_0; Q5_K → Q5_1; Q6_K → Q8_0;
    /// none for the 32-element types (a row that is not whole 32s fits no block type).
    public static func llamaCppDefault(for type: GGUFTensorType) -> GGUFTensorType? {
        switch type {
        case .q2_K, .q3_K: return .q4_0
        case .q4_K: return .q5_0
        case .q5_K: return .q5_1
        case .q6_K: return .q8_0
        default: return nil
        }
    }

    /// The type a weight with rows of `columns` elements takes: `preferred` where it fits, else
    /// `fallback` (llama.cpp's default when nil) where that fits, else nil.
    public static func type(forColumns columns: Int, preferred: GGUFTensorType, fallback: GGUFTensorType? = nil) -> GGUFTensorType? {
        if GGMLQuantizedTensor.fits(preferred, columns: columns) { return preferred }
        guard let other = fallback ?? llamaCppDefault(for: preferred),
              GGMLQuantizedTensor.fits(other, columns: columns) else { return nil }
        return other
    }
}
