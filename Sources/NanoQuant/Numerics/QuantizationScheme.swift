/// How a weight [out, in] is mapped to integers: the bit width, whether the grid is symmetric
/// around zero, and which elements share one scale (and zero point).
///
/// - `symmetric`: codes in [-(2^(b-1)-1), 2^(b-1)-1], zero point 0, scale = absmax / qmax.
/// - asymmetric: codes in [0, 2^b - 1] with an integer zero point, so 0.0 is exact.
/// See `QuantizationNumerics` for the arithmetic.
public struct QuantizationScheme: Equatable, Hashable, Codable, Sendable, CustomStringConvertible {
    /// Which elements of a weight [out, in] share one scale.
    public enum Granularity: Equatable, Hashable, Codable, Sendable {
        /// One scale for the whole tensor.
        case tensor
        /// One scale per output row.
        case channel
        /// One scale per run of `N` consecutive input columns within each row. `N` must divide
        /// the number of input columns: there is no partial last group (simpler packed layouts,
        /// and every transformer width of interest is a multiple of the usual 32/64/128).
        case group(Int)
    }

    /// Bits per code, 2…8.
    public var bits: Int
    /// True for a grid symmetric around zero (no zero point), false for an affine grid.
    public var symmetric: Bool
    public var granularity: Granularity

    public init(bits: Int, symmetric: Bool = true, granularity: Granularity = .channel) {
        self.bits = bits
        self.symmetric = symmetric
        self.granularity = granularity
    }

    /// The bit widths a scheme may use.
    public static let supportedBits = 2...8

    /// Throws when the scheme is malformed on its own (bits, group size).
    public func validate() throws {
        guard Self.supportedBits.contains(bits) else { throw QuantizationError.bitsOutOfRange(found: bits) }
        if case .group(let size) = granularity, size <= 0 {
            throw QuantizationError.nonPositiveGroupSize(found: size)
        }
    }

    /// Throws when the scheme is malformed or cannot apply to a weight of this shape.
    public func validate(forWeightShape shape: [Int]) throws {
        try validate()
        guard shape.count == 2, shape[0] > 0, shape[1] > 0 else { throw QuantizationError.notAMatrix(shape: shape) }
        if case .group(let size) = granularity, shape[1] % size != 0 {
            throw QuantizationError.groupSizeDoesNotDivideColumns(groupSize: size, columns: shape[1])
        }
    }

    /// The number of consecutive input columns sharing a scale, for a weight with `columns` inputs
    /// (the whole row for `.channel` and `.tensor`).
    public func groupWidth(columns: Int) -> Int {
        if case .group(let size) = granularity { return size }
        return columns
    }

    /// The number of scales a weight [rows, columns] needs: 1, rows, or rows · columns / N.
    public func scaleCount(rows: Int, columns: Int) -> Int {
        switch granularity {
        case .tensor: return 1
        case .channel: return rows
        case .group(let size): return rows * (columns / size)
        }
    }

    /// The index into the scales of the element (row, column); scales of a grouped weight are
    /// laid out [rows, columns / N].
    @inline(__always)
    public func scaleIndex(row: Int, column: Int, columns: Int) -> Int {
        switch granularity {
        case .tensor: return 0
        case .channel: return row
        case .group(let size): return row * (columns / size) + column / size
        }
    }

    public var description: String {
        let g: String
        switch granularity {
        case .tensor: g = "tensor"
        case .channel: g = "channel"
        case .group(let n): g = "group\(n)"
        }
        return "int\(bits) \(symmetric ? "sym" : "asym") \(g)"
    }
}

/// How scales are stored. Quantizers round scales to this format before computing codes, so the
/// codes are exact for the scales that are actually stored.
public enum ScaleFormat: String, Equatable, Hashable, Codable, Sendable {
    case float16, float32

    /// Bytes per stored scale.
    public var byteCount: Int { self == .float16 ? 2 : 4 }
}
