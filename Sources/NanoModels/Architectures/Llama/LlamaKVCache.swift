import NanoTensor

/// The keys and values of the positions a `LlamaModel` has already seen, per layer, so that each
/// new token costs one pass over the weights instead of re-running the prompt.
///
/// Storage is allocated once for `capacity` positions: per layer, keys and values laid out
/// [kvHeads, capacity, headDimension], written in place as positions arrive. Keys are stored
/// after the rotary rotation, as the attention reads them.
public final class LlamaKVCache {
    public let layers: Int
    public let kvHeads: Int
    public let headDimension: Int
    /// The most positions the cache holds.
    public let capacity: Int
    /// Positions stored so far; the next token sits at this position.
    public private(set) var count = 0

    var keys: [[Float]]
    var values: [[Float]]

    public init(layers: Int, kvHeads: Int, headDimension: Int, capacity: Int) {
        precondition(layers > 0 && kvHeads > 0 && headDimension > 0 && capacity > 0,
                     "LlamaKVCache: sizes must be positive (\(layers) layers, \(kvHeads) heads × \(headDimension), capacity \(capacity))")
        self.layers = layers; self.kvHeads = kvHeads; self.headDimension = headDimension; self.capacity = capacity
        let size = kvHeads * capacity * headDimension
        keys = Array(repeating: [Float](repeating: 0, count: size), count: layers)
        values = keys
    }

    /// A cache sized for `model`, holding up to `capacity` positions (at most its context).
    public convenience init(for model: LlamaModel, capacity: Int) {
        let c = model.configuration
        self.init(layers: c.layers, kvHeads: c.kvHeads, headDimension: c.headDimension, capacity: Swift.min(capacity, c.contextLength))
    }

    /// Positions still free.
    public var remaining: Int { capacity - count }

    /// Forgets every position (the storage is kept).
    public func reset() { count = 0 }

    /// Writes layer `layer`'s keys and values for positions `count..<count + T`
    /// (k, v: [1, kvHeads, T, headDimension]). `advance(by:)` moves `count` once all layers are written.
    func write(layer: Int, keys k: Tensor, values v: Tensor) {
        let t = k.shape[2], d = headDimension
        precondition(k.shape == [1, kvHeads, t, d] && v.shape == k.shape, "LlamaKVCache: keys \(k.shape) / values \(v.shape) do not fit [1, \(kvHeads), T, \(d)]")
        precondition(count + t <= capacity, "LlamaKVCache: \(count) + \(t) positions exceed the capacity \(capacity)")
        for (source, isKey) in [(k, true), (v, false)] {
            source.scalars.withUnsafeBufferPointer { src in
                func copy(into dst: UnsafeMutableBufferPointer<Float>) {
                    for h in 0..<kvHeads {
                        (dst.baseAddress! + (h * capacity + count) * d).update(from: src.baseAddress! + h * t * d, count: t * d)
                    }
                }
                if isKey { keys[layer].withUnsafeMutableBufferPointer { copy(into: $0) } } else { values[layer].withUnsafeMutableBufferPointer { copy(into: $0) } }
            }
        }
    }

    /// Layer `layer`'s keys and values for positions 0..<length, as [1, kvHeads, length, headDimension].
    func prefix(layer: Int, length: Int) -> (keys: Tensor, values: Tensor) {
        let d = headDimension
        func gather(_ store: [Float]) -> Tensor {
            let out = [Float](unsafeUninitializedCapacity: kvHeads * length * d) { dst, initialized in
                store.withUnsafeBufferPointer { src in
                    for h in 0..<kvHeads {
                        (dst.baseAddress! + h * length * d).initialize(from: src.baseAddress! + h * capacity * d, count: length * d)
                    }
                }
                initialized = kvHeads * length * d
            }
            return Tensor(shape: [1, kvHeads, length, d], scalars: out)
        }
        return (gather(keys[layer]), gather(values[layer]))
    }

    /// Writes layer `layer`'s keys and values for positions `count..<count + T` from the
    /// token-major layout the projections produce (k, v: [T, kvHeads · headDimension]).
    func store(layer: Int, keys k: Tensor, values v: Tensor) {
        let d = headDimension, t = k.shape[0], width = kvHeads * d
        precondition(k.shape == [t, width] && v.shape == k.shape, "LlamaKVCache: keys \(k.shape) / values \(v.shape) do not fit [T, \(width)]")
        precondition(count + t <= capacity, "LlamaKVCache: \(count) + \(t) positions exceed the capacity \(capacity)")
        func scatter(_ source: Tensor, into store: inout [Float]) {
            source.scalars.withUnsafeBufferPointer { src in
                store.withUnsafeMutableBufferPointer { dst in
                    for row in 0..<t {
                        for h in 0..<kvHeads {
                            (dst.baseAddress! + (h * capacity + count + row) * d).update(from: src.baseAddress! + row * width + h * d, count: d)
                        }
                    }
                }
            }
        }
        scatter(k, into: &keys[layer])
        scatter(v, into: &values[layer])
    }

    /// Layer `layer`'s whole key and value storage as [kvHeads, capacity, headDimension] tensors
    /// that share it (no copy; positions `count...` hold stale or zero values).
    func storage(layer: Int) -> (keys: Tensor, values: Tensor) {
        let shape = [kvHeads, capacity, headDimension]
        return (Tensor(shape: shape, scalars: keys[layer]), Tensor(shape: shape, scalars: values[layer]))
    }

    func advance(by t: Int) { count += t }
}
