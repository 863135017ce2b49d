import Foundation

/// Activations evaluated with Foundation's Double libm, one element at a time.
extension Reference {
    /// max(x, 0).
    public static func relu(_ x: Tensor) -> Tensor { map(x) { Swift.max($0, 0) } }

    /// x·Φ(x), with Φ from `erf` or the tanh formula.
    public static func gelu(_ x: Tensor, approximation: GELUApproximation = .erf) -> Tensor {
        switch approximation {
        case .erf:
            return map(x) { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }
        case .tanh:
            let k = (2 / Double.pi).squareRoot()
            return map(x) { 0.5 * $0 * (1 + Foundation.tanh(k * ($0 + 0.044715 * $0 * $0 * $0))) }
        }
    }

    /// x·σ(x).
    public static func silu(_ x: Tensor) -> Tensor { map(x) { $0 / (1 + Foundation.exp(-$0)) } }

    /// tanh(x).
    public static func tanh(_ x: Tensor) -> Tensor { map(x) { Foundation.tanh($0) } }

    /// 1 / (1 + e⁻ˣ).
    public static func sigmoid(_ x: Tensor) -> Tensor { map(x) { 1 / (1 + Foundation.exp(-$0)) } }

    /// eˣ.
    public static func exp(_ x: Tensor) -> Tensor { map(x) { Foundation.exp($0) } }

    /// log x.
    public static func log(_ x: Tensor) -> Tensor { map(x) { Foundation.log($0) } }

    /// Applies `f` in Double to every element and rounds the result to Float once.
    static func map(_ x: Tensor, _ f: (Double) -> Double) -> Tensor {
        var out = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count { out[i] = Float(f(Double(x.scalars[i]))) }
        return Tensor(shape: x.shape, scalars: out)
    }
}
