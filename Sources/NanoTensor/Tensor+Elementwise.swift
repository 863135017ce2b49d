/// A scalar binary function, specialised into the broadcasting loop at compile time.
public protocol BinaryScalarOp {
    static func apply(_ a: Float, _ b: Float) -> Float
}

public enum AddOp: BinaryScalarOp { @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
public enum SubOp: BinaryScalarOp { @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
public enum MulOp: BinaryScalarOp { @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
public enum DivOp: BinaryScalarOp { @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a / b } }
public enum MaxOp: BinaryScalarOp { @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { Swift.max(a, b) } }
public enum MinOp: BinaryScalarOp { @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { Swift.min(a, b) } }

extension Tensor {
    /// Applies `Op` elementwise with NumPy broadcasting.
    public static func broadcasting<Op: BinaryScalarOp>(_ a: Tensor, _ b: Tensor, _: Op.Type) -> Tensor {
        guard let outShape = Broadcast.shape(a.shape, b.shape) else {
            preconditionFailure("broadcast: shapes \(a.shape) and \(b.shape) are incompatible")
        }
        let total = outShape.elementCount
        if total == 0 { return Tensor(shape: outShape, scalars: []) }
        let (shape, strides) = Broadcast.coalesce(
            outShape, [Broadcast.strides(of: a.shape, in: outShape), Broadcast.strides(of: b.shape, in: outShape)])
        let out = uninitializedScalars(total) { po in
            a.scalars.withUnsafeBufferPointer { pa in
                b.scalars.withUnsafeBufferPointer { pb in
                    let (pa, pb) = (pa.baseAddress!, pb.baseAddress!)
                    let inner = shape[shape.count - 1]
                    if shape.count == 1 {
                        // One contiguous run: split it across cores directly.
                        let (sa, sb) = (strides[0][0], strides[1][0])
                        Parallel.forRanges(inner) { r in
                            binaryRun(pa + r.lowerBound * sa, pb + r.lowerBound * sb, po + r.lowerBound, r.count, sa, sb, Op.self)
                        }
                    } else {
                        let rows = total / inner
                        Parallel.forRanges(rows, grain: Swift.max(1, (1 << 16) / inner)) { r in
                            binaryRows(pa, pb, po, shape, strides[0], strides[1], rows: r, Op.self)
                        }
                    }
                }
            }
        }
        return Tensor(shape: outShape, scalars: out)
    }

    /// One run of `count` outputs; operand strides are 1 (contiguous) or 0 (a repeated scalar).
    @inline(__always)
    static func binaryRun<Op: BinaryScalarOp>(
        _ pa: UnsafePointer<Float>, _ pb: UnsafePointer<Float>, _ po: UnsafeMutablePointer<Float>,
        _ count: Int, _ ia: Int, _ ib: Int, _: Op.Type
    ) {
        // Separate loops per stride pattern so each one vectorises.
        if ia == 1 && ib == 1 {
            for i in 0..<count { po[i] = Op.apply(pa[i], pb[i]) }
        } else if ia == 1 {
            let vb = pb[0]
            for i in 0..<count { po[i] = Op.apply(pa[i], vb) }
        } else if ib == 1 {
            let va = pa[0]
            for i in 0..<count { po[i] = Op.apply(va, pb[i]) }
        } else {
            let v = Op.apply(pa[0], pb[0])
            for i in 0..<count { po[i] = v }
        }
    }

    /// Output rows `rows` (of the coalesced shape's last axis) of a broadcast binary op.
    @inline(__always)
    static func binaryRows<Op: BinaryScalarOp>(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>,
        _ shape: [Int], _ sa: [Int], _ sb: [Int], rows: Range<Int>, _: Op.Type
    ) {
        let rank = shape.count
        let inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1]
        // The multi-index of the first row, and the operands' offsets there.
        var index = [Int](repeating: 0, count: rank)
        var offA = 0, offB = 0, rest = rows.lowerBound
        for axis in stride(from: rank - 2, through: 0, by: -1) {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
            offA += index[axis] * sa[axis]
            offB += index[axis] * sb[axis]
        }
        for row in rows {
            binaryRun(a + offA, b + offB, o + row * inner, inner, ia, ib, Op.self)
            // Advance the multi-index over the outer axes.
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                offA += sa[axis]; offB += sb[axis]
                if index[axis] < shape[axis] { break }
                offA -= sa[axis] * shape[axis]; offB -= sb[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// Applies `body` to every element (for cold paths; hot unary ops have their own loops).
    public func map(_ body: (Float) -> Float) -> Tensor {
        Tensor(shape: shape, scalars: scalars.map(body))
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, AddOp.self) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, SubOp.self) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, MulOp.self) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, DivOp.self) }
    public static func + (a: Tensor, b: Float) -> Tensor { a.applying { $0 + b } }
    public static func - (a: Tensor, b: Float) -> Tensor { a.applying { $0 - b } }
    public static func * (a: Tensor, b: Float) -> Tensor { a.applying { $0 * b } }
    public static func / (a: Tensor, b: Float) -> Tensor { a.applying { $0 / b } }
    public static func * (a: Float, b: Tensor) -> Tensor { b.applying { a * $0 } }
    public static prefix func - (a: Tensor) -> Tensor { a.applying { -$0 } }

    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { broadcasting(a, b, MaxOp.self) }
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { broadcasting(a, b, MinOp.self) }

    /// Applies an inlinable closure to every element with a tight loop over contiguous storage.
    @inlinable
    public func applying(_ body: (Float) -> Float) -> Tensor {
        let out = [Float](unsafeUninitializedCapacity: count) { dst, initialized in
            scalars.withUnsafeBufferPointer { src in
                for i in 0..<src.count { dst[i] = body(src[i]) }
            }
            initialized = count
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// Adds `other` (same shape) into this tensor in place: the accumulation step of gradients.
    public mutating func addInPlace(_ other: Tensor, scale: Float = 1) {
        precondition(shape == other.shape, "addInPlace: shapes \(shape) and \(other.shape) differ")
        other.scalars.withUnsafeBufferPointer { src in
            scalars.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                Parallel.forRanges(src.count) { r in
                    if scale == 1 { for i in r { d[i] += s[i] } } else { for i in r { d[i] += scale * s[i] } }
                }
            }
        }
    }

    /// Sums a broadcast result back down to `target` (the adjoint of broadcasting).
    public func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        var result = self
        let pad = rank - target.count
        precondition(pad >= 0, "sumToShape: \(shape) cannot reduce to \(target)")
        var axes: [Int] = Array(0..<pad)
        for i in 0..<target.count where target[i] == 1 && shape[pad + i] != 1 { axes.append(pad + i) }
        if !axes.isEmpty { result = result.sum(axes: axes, keepDims: true) }
        return result.reshaped(target)
    }
}
