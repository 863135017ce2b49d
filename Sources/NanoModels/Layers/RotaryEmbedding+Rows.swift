import NanoTensor

extension RotaryEmbedding {
    /// Rotates x: [T, heads · headDimension] in place, every head of row t at position `offset + t`:
    /// the token-major layout a projection writes, so inference needs no split into heads first.
    /// The same arithmetic as `apply` (the same bits).
    public func rotateRows(_ x: inout Tensor, offset: Int) {
        let d = headDimension, half = d / 2
        precondition(x.rank == 2 && x.shape[1] % d == 0, "rotary: \(x.shape) is not [T, heads · \(d)]")
        let (t, width) = (x.shape[0], x.shape[1])
        precondition(offset >= 0 && offset + t <= maxLength, "rotary: positions \(offset)..<\(offset + t) exceed the table (\(maxLength))")
        x.scalars.withUnsafeMutableBufferPointer { px in
            cos.withUnsafeBufferPointer { cs in
                sin.withUnsafeBufferPointer { sn in
                    for row in 0..<t {
                        let table = (offset + row) * half
                        for head in stride(from: row * width, to: (row + 1) * width, by: d) {
                            for i in 0..<half {
                                let x1 = px[head + i], x2 = px[head + half + i]
                                let c = cs[table + i], s = sn[table + i]
                                px[head + i] = x1 * c - x2 * s
                                px[head + half + i] = x2 * c + x1 * s
                            }
                        }
                    }
                }
            }
        }
    }
}
