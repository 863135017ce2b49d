import Foundation
import NanoTensor

/// A teacher's next-token distribution kept as its k most likely tokens plus the rest: per row,
/// up to k token ids (of the student's vocabulary) with their probabilities, and the remainder
/// mass 1 − Σ p. This is what a language-model teacher cache stores (k ≪ vocabulary), and what
/// `Loss.topKDivergence` compares the student with: both distributions coarsened to the same
/// k + 1 buckets (the k tokens, and "any other token"), so the divergence is an exact KL of
/// those bucket distributions, with no guess at the teacher's tail.
public struct TopKDistribution: Equatable, Sendable {
    /// Rows (positions).
    public let rows: Int
    /// Slots per row.
    public let k: Int
    /// [rows · k] token ids; −1 marks an empty slot (a teacher token the student's vocabulary lacks,
    /// whose mass is in the remainder).
    public var ids: [Int32]
    /// [rows · k] probabilities of the ids (0 in empty slots).
    public var probabilities: [Float]
    /// [rows] mass of every other token.
    public var remainder: [Float]

    public init(rows: Int, k: Int, ids: [Int32], probabilities: [Float], remainder: [Float]) {
        precondition(ids.count == rows * k && probabilities.count == rows * k && remainder.count == rows, "TopKDistribution: sizes")
        self.rows = rows; self.k = k; self.ids = ids; self.probabilities = probabilities; self.remainder = remainder
    }

    /// The top-k of softmax(logits / temperature) per row of `logits` [rows, V]. `studentId` maps
    /// a teacher token id to the student's (nil: the student lacks it, and its mass goes to the
    /// remainder); nil means the same vocabulary. Ties keep the lower id first.
    public init(logits: Tensor, k: Int, temperature: Float = 1, studentId: ((Int) -> Int?)? = nil) {
        let v = logits.shape[logits.rank - 1], rows = logits.count / max(v, 1)
        let k = max(1, min(k, v))
        var ids = [Int32](repeating: -1, count: rows * k), probabilities = [Float](repeating: 0, count: rows * k)
        var remainder = [Float](repeating: 0, count: rows)
        logits.scalars.withUnsafeBufferPointer { z in
            var chosen = [Int]()
            chosen.reserveCapacity(k + 1)
            for r in 0..<rows {
                let row = z.baseAddress! + r * v
                var top = -Float.infinity
                for j in 0..<v { top = max(top, row[j]) }
                var total = 0.0
                for j in 0..<v { total += Double(Foundation.exp((row[j] - top) / temperature)) }
                // The k largest in (logit descending, id ascending) order, by insertion: one pass over V.
                chosen.removeAll(keepingCapacity: true)
                for j in 0..<v where chosen.count < k || row[j] > row[chosen[chosen.count - 1]] {
                    var at = chosen.count
                    while at > 0 && row[chosen[at - 1]] < row[j] { at -= 1 }
                    chosen.insert(j, at: at)
                    if chosen.count > k { chosen.removeLast() }
                }
                var kept = 0.0
                for (slot, j) in chosen.enumerated() {
                    let p = Double(Foundation.exp((row[j] - top) / temperature)) / total
                    guard let id = studentId.map({ $0(j) }) ?? j else { continue }
                    ids[r * k + slot] = Int32(id)
                    probabilities[r * k + slot] = Float(p)
                    kept += p
                }
                remainder[r] = Float(max(0, 1 - kept))
            }
        }
        self.init(rows: rows, k: k, ids: ids, probabilities: probabilities, remainder: remainder)
    }

    /// Rows `range` as their own distribution.
    public func rows(_ range: Range<Int>) -> TopKDistribution {
        TopKDistribution(rows: range.count, k: k, ids: Array(ids[(range.lowerBound * k)..<(range.upperBound * k)]),
                         probabilities: Array(probabilities[(range.lowerBound * k)..<(range.upperBound * k)]),
                         remainder: Array(remainder[range]))
    }

    /// Rows of several distributions with the same k, in order.
    public static func concatenating(_ parts: [TopKDistribution]) -> TopKDistribution {
        let k = parts.first?.k ?? 1
        precondition(parts.allSatisfy { $0.k == k }, "TopKDistribution: different k")
        return TopKDistribution(rows: parts.reduce(0) { $0 + $1.rows }, k: k, ids: parts.flatMap(\.ids),
                                probabilities: parts.flatMap(\.probabilities), remainder: parts.flatMap(\.remainder))
    }
}

extension Loss {
    /// Which way the divergence runs: forward KL(teacher ‖ student) covers the teacher's modes,
    /// reverse KL(student ‖ teacher) seeks them (MiniLLM's choice for small students).
    public enum DivergenceDirection: Sendable { case forward, reverse }

    /// T² · KL between the teacher's bucket distribution `teacher` and the student's softmax of
    /// `student` / T [rows, V] coarsened to the same buckets (each slot's token, and the rest),
    /// averaged over rows. The student's rest mass is summed over the tokens outside the row's
    /// slots, not taken as 1 − Σ, so it stays accurate when it is tiny. Probabilities are floored
    /// at 1e-12 inside the logarithms.
    public static func topKDivergence(student: Variable, teacher: TopKDistribution, direction: DivergenceDirection,
                                      temperature: Float = 1, tape: Tape) -> Variable {
        let v = student.shape[student.rank - 1], rows = student.value.count / max(v, 1), k = teacher.k
        precondition(rows == teacher.rows, "topKDivergence: \(rows) student rows, \(teacher.rows) teacher rows")
        let floor = 1e-12
        // Per row: the student's softmax q (kept for the backward pass), its slot masses Q_b and rest Q_r.
        var q = [Float](repeating: 0, count: rows * v)
        var slotMass = [Double](repeating: 0, count: rows * k), restMass = [Double](repeating: 0, count: rows)
        var total = 0.0
        student.value.scalars.withUnsafeBufferPointer { z in
            q.withUnsafeMutableBufferPointer { q in
                var inSlot = [Bool](repeating: false, count: v)
                for r in 0..<rows {
                    let row = z.baseAddress! + r * v, qr = q.baseAddress! + r * v
                    var top = -Float.infinity
                    for j in 0..<v { top = max(top, row[j]) }
                    var sum = 0.0
                    for j in 0..<v { let e = Foundation.exp(Double((row[j] - top) / temperature)); qr[j] = Float(e); sum += e }
                    let inverse = 1 / sum
                    for j in 0..<v { qr[j] = Float(Double(qr[j]) * inverse) }
                    for b in 0..<k { let id = Int(teacher.ids[r * k + b]); if id >= 0 { inSlot[id] = true; slotMass[r * k + b] = Double(qr[id]) } }
                    var rest = 0.0
                    for j in 0..<v where !inSlot[j] { rest += Double(qr[j]) }
                    for b in 0..<k { let id = Int(teacher.ids[r * k + b]); if id >= 0 { inSlot[id] = false } }
                    restMass[r] = rest
                    // The row's divergence over its buckets.
                    func term(_ p: Double, _ s: Double) -> Double {
                        switch direction {
                        case .forward: return p > 0 ? p * (Foundation.log(p) - Foundation.log(max(s, floor))) : 0
                        case .reverse: return s > 0 ? s * (Foundation.log(s) - Foundation.log(max(p, floor))) : 0
                        }
                    }
                    for b in 0..<k where teacher.ids[r * k + b] >= 0 { total += term(Double(teacher.probabilities[r * k + b]), slotMass[r * k + b]) }
                    total += term(Double(teacher.remainder[r]), rest)
                }
            }
        }
        let t2 = Double(temperature * temperature)
        let value = Tensor(scalar: Float(total * t2 / Double(max(rows, 1))))
        return tape.record(value, inputs: [student]) { g, _ in
            // With g_b = ∂L/∂Q_b per bucket (slots and rest), ∂L/∂z_j = [j = id_b] Q_b (g_b − g_r) − q_j A,
            // A = Σ_b Q_b (g_b − g_r), z = logits / T (the chain rule adds 1/T).
            let scale = Double(g.scalar) * t2 / Double(max(rows, 1)) / Double(temperature)
            var grad = [Float](repeating: 0, count: rows * v)
            for r in 0..<rows {
                func derivative(_ p: Double, _ s: Double) -> Double {
                    switch direction {
                    case .forward: return p > 0 ? -p / max(s, floor) : 0
                    case .reverse: return s > 0 ? Foundation.log(s) - Foundation.log(max(p, floor)) + 1 : 0
                    }
                }
                let gRest = derivative(Double(teacher.remainder[r]), restMass[r])
                var a = 0.0
                var slotTerms = [Double](repeating: 0, count: k)
                for b in 0..<k where teacher.ids[r * k + b] >= 0 {
                    let s = slotMass[r * k + b]
                    slotTerms[b] = s * (derivative(Double(teacher.probabilities[r * k + b]), s) - gRest)
                    a += slotTerms[b]
                }
                let base = r * v
                for j in 0..<v { grad[base + j] = Float(-Double(q[base + j]) * a * scale) }
                for b in 0..<k where teacher.ids[r * k + b] >= 0 { grad[base + Int(teacher.ids[r * k + b])] += Float(slotTerms[b] * scale) }
            }
            return [Tensor(shape: student.shape, scalars: grad)]
        }
    }
}
