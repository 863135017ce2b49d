import NanoTensor

/// How stored tensor names become a model's parameter paths, as data: one entry per stored name
/// (a pattern with `{i}` for a layer index), what it becomes, and what must be done to its values.
///
/// nanoforge's own families store their tensors under their module paths, so their maps are the
/// identity; a GGUF Llama file needs renames (`blk.{i}.attn_q.weight` → `layers.{i}.attention.q_proj.weight`),
/// and llama.cpp's converter permutes the rows of Q and K for its rotary layout, which loading undoes.
public struct TensorNameMap: Sendable, Equatable {
    /// What loading does to a stored tensor's values before it becomes the parameter.
    public enum Transform: Sendable, Equatable {
        case none
        /// A 2-D tensor stored [in, out] for a parameter [out, in] (Keras, some TF exports).
        case transpose
        /// Undo llama.cpp's Q/K row permutation: the stored rows of each head are
        /// interleaved (pairs) where the model wants its two rotary halves (`heads` heads).
        case unpermuteRotaryRows(heads: Int)
    }

    public struct Entry: Sendable, Equatable {
        /// The stored name; `{i}` stands for a layer index.
        public var stored: String
        /// The parameter path; `{i}` is the same index.
        public var parameter: String
        public var transform: Transform

        public init(stored: String, parameter: String, transform: Transform = .none) {
            self.stored = stored; self.parameter = parameter; self.transform = transform
        }
    }

    public var entries: [Entry]
    /// A prefix some exporters put before every stored name (`bert.`), removed before matching.
    public var storedPrefix: String
    /// Stored names (patterns with `{i}`, after the prefix) that are not parameters and loading
    /// skips: buffers (`rotary_emb.inv_freq`), a tied head's saved copy of the embedding table.
    public var ignored: [String]

    public init(entries: [Entry] = [], storedPrefix: String = "", ignored: [String] = []) {
        self.entries = entries
        self.storedPrefix = storedPrefix
        self.ignored = ignored
    }

    /// Whether loading skips the stored tensor `name` (see `ignored`).
    public func isIgnored(_ name: String) -> Bool {
        let local = name.hasPrefix(storedPrefix) ? String(name.dropFirst(storedPrefix.count)) : name
        return ignored.contains { Self.match($0, local) != nil }
    }

    /// Every stored name is the parameter path: nanoforge's own checkpoints.
    public static let identity = TensorNameMap()

    /// The parameter path and transform of a stored name; names no entry matches map to themselves.
    public func parameter(forStored name: String) -> (path: String, transform: Transform) {
        let local = name.hasPrefix(storedPrefix) ? String(name.dropFirst(storedPrefix.count)) : name
        for entry in entries {
            if let index = Self.match(entry.stored, local) {
                return (entry.parameter.replacingOccurrences(of: "{i}", with: index ?? ""), entry.transform)
            }
        }
        return (local, .none)
    }

    /// The stored name of a parameter path (the inverse of `parameter(forStored:)`).
    public func stored(forParameter path: String) -> String {
        for entry in entries {
            if let index = Self.match(entry.parameter, path) {
                return storedPrefix + entry.stored.replacingOccurrences(of: "{i}", with: index ?? "")
            }
        }
        return storedPrefix + path
    }

    /// Applies `transform` to a stored tensor.
    public static func apply(_ transform: Transform, to tensor: Tensor) -> Tensor {
        switch transform {
        case .none: return tensor
        case .transpose:
            precondition(tensor.rank == 2, "TensorNameMap: transpose needs a 2-D tensor, got \(tensor.shape)")
            return tensor.transposed()
        case .unpermuteRotaryRows(let heads):
            return unpermuteRotaryRows(tensor, heads: heads)
        }
    }

    /// llama.cpp's converter reorders each head's rows [r0 … r(d/2-1) | r(d/2) … r(d-1)] into
    /// pairs (r0, r(d/2), r1, r(d/2+1), …); this puts them back (rows of `tensor` = heads · d):
    /// row h·d + s·d/2 + i comes from stored row h·d + 2i + s (s ∈ {0, 1}, i < d/2).
    public static func unpermuteRotaryRows(_ tensor: Tensor, heads: Int) -> Tensor {
        reorderRotaryRows(tensor, heads: heads, inverse: true)
    }

    /// The converter's permutation itself (rotate-half order → ggml's pairs), for writers and tests.
    public static func permuteRotaryRows(_ tensor: Tensor, heads: Int) -> Tensor {
        reorderRotaryRows(tensor, heads: heads, inverse: false)
    }

    private static func reorderRotaryRows(_ tensor: Tensor, heads: Int, inverse: Bool) -> Tensor {
        let rows = tensor.shape[0], columns = tensor.count / max(1, rows)
        precondition(heads > 0 && rows % (2 * heads) == 0, "TensorNameMap: \(rows) rows do not split into \(heads) heads of pairs")
        let d = rows / heads, half = d / 2
        var out = [Float](repeating: 0, count: tensor.count)
        guard columns > 0 else { return Tensor(shape: tensor.shape, scalars: out) }
        tensor.scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for h in 0..<heads {
                    for s in 0..<2 {
                        for i in 0..<half {
                            let halves = h * d + s * half + i, pairs = h * d + 2 * i + s
                            let (from, to) = inverse ? (pairs, halves) : (halves, pairs)
                            (dst.baseAddress! + to * columns).update(from: src.baseAddress! + from * columns, count: columns)
                        }
                    }
                }
            }
        }
        return Tensor(shape: tensor.shape, scalars: out)
    }

    /// Matches `name` against `pattern` (`{i}` = a run of digits): nil when it does not match,
    /// otherwise the index (nil inside when the pattern has none).
    static func match(_ pattern: String, _ name: String) -> String?? {
        guard let hole = pattern.range(of: "{i}") else { return pattern == name ? .some(nil) : nil }
        let head = pattern[..<hole.lowerBound], tail = pattern[hole.upperBound...]
        guard name.hasPrefix(head), name.hasSuffix(tail), name.count > head.count + tail.count else { return nil }
        let index = name.dropFirst(head.count).dropLast(tail.count)
        guard index.allSatisfy(\.isNumber) else { return nil }
        return .some(String(index))
    }
}
