/// Finds `stop` strings in generated text as it grows, and tells which text is safe to hand
/// out: text that may still turn into the start of a stop string is held back, so a streamed
/// reply never shows a stop string, or a piece of one, that the whole reply would not.
struct StopMatcher {
    let stops: [[Unicode.Scalar]]
    private var pending: [Unicode.Scalar] = []

    init(_ stops: [String]) { self.stops = stops.filter { !$0.isEmpty }.map { Array($0.unicodeScalars) } }

    /// Adds `delta`; returns the text now safe to hand out, and whether a stop string was found
    /// (then the text ends just before it and generation should end).
    mutating func append(_ delta: String) -> (text: String, stopped: Bool) {
        pending += delta.unicodeScalars
        if let cut = firstMatch() {
            let text = Self.string(pending[..<cut])
            pending = []
            return (text, true)
        }
        let keep = longestStopPrefixSuffix()
        let text = Self.string(pending[..<(pending.count - keep)])
        pending.removeFirst(pending.count - keep)
        return (text, false)
    }

    /// The text held back: at the end of generation it is final.
    mutating func flush() -> String {
        defer { pending = [] }
        return Self.string(pending[...])
    }

    /// Where the earliest stop string starts in the pending text.
    private func firstMatch() -> Int? {
        var best: Int?
        for stop in stops where stop.count <= pending.count {
            for start in 0...(pending.count - stop.count) where best == nil || start < best! {
                if pending[start..<(start + stop.count)].elementsEqual(stop) { best = start; break }
            }
        }
        return best
    }

    /// The length of the longest suffix of the pending text that is a proper prefix of a stop string.
    private func longestStopPrefixSuffix() -> Int {
        var keep = 0
        for stop in stops {
            for n in stride(from: min(stop.count - 1, pending.count), to: keep, by: -1)
            where pending[(pending.count - n)...].elementsEqual(stop[..<n]) {
                keep = n
                break
            }
        }
        return keep
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }
}
