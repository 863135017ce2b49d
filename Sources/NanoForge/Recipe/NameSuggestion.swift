/// The nearest valid name to a misspelt one, for "did you mean …?" hints.
///
/// Names are compared after folding case and dropping `_` and `-` (so `groupSize` finds
/// `group_size`), then by Levenshtein distance. A candidate is suggested only when it is close
/// enough to be a plausible typo: at most a third of the longer name, and at least 1.
enum NameSuggestion {
    /// The closest of `candidates` to `name`, or nil when none is plausibly meant.
    static func nearest(to name: String, in candidates: [String]) -> String? {
        let folded = fold(name)
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(folded, fold(candidate))
            if let current = best, current.distance <= distance { continue }
            best = (candidate, distance)
        }
        guard let best else { return nil }
        let limit = max(1, max(folded.count, fold(best.name).count) / 3)
        return best.distance <= limit ? best.name : nil
    }

    /// Levenshtein distance over Unicode scalars.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    private static func fold(_ name: String) -> String {
        String(name.lowercased().unicodeScalars.filter { $0 != "_" && $0 != "-" })
    }
}
