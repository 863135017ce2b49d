import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// The teachers' next-token distributions over a language model's training windows, each
/// position kept as its top k tokens (student ids) and the remainder mass (`TopKDistribution`),
/// in memory for the run and, with `distill: { teacher_cache: PATH }`, in an HDF5 file, so that a
/// later run (a resumed one, or another student on the same data) never runs the teachers.
///
/// The file is keyed by what decides its contents: each teacher's fingerprint (weights and
/// vocabulary), the student's vocabulary (the id space), the data file's SHA-256, the window
/// length and count, k and the temperature. A key that differs is an error naming the file and
/// the field; delete the file to rebuild it. It is written atomically when windows were added:
/// every `DistillationPass.teacherCacheSaveInterval` while it fills, at the end, and when a
/// teacher fails, so that a killed run asks only for the windows it lacks.
///
/// With `hidden_mse` it also keeps each teacher's last hidden states (after the final norm, the
/// head's input) at every position of the windows, as Float16: they are the bulk of the file
/// (W·L·D·2 bytes a teacher: 480 windows × 256 positions × 576 for SmolLM2 is 142 MB, against
/// 283 MB in Float32), and the targets of a mean squared error lose nothing that matters to
/// Float16's 11-bit significand. Whether they are stored, and their width, is part of the key
/// (`nanoforge.teacher_cache.hidden_states`; a file written before that field existed holds none).
///
/// Layout: datasets `teacher.<i>.ids` [W, L, k] (I32, −1 for an empty slot), `teacher.<i>.probabilities`
/// [W, L, k] (F32), `teacher.<i>.remainder` [W, L] (F32), `teacher.<i>.present` [W] (U8) and,
/// with hidden states, `teacher.<i>.hidden` [W, L, D] (F16); root attributes
/// `nanoforge.teacher_cache.*` hold the key.
final class TeacherTopKCache {
    static let content = "next_token_top_k"
    let path: String?
    let key: [String: String]
    let windows: Int, length: Int, k: Int
    /// The teachers' hidden-state width when hidden states are kept, nil otherwise.
    let hiddenWidth: Int?
    private var ids: [[Int32]], probabilities: [[Float]], remainder: [[Float]], present: [[Bool]]
    /// Float16 bits [W · L · D] a teacher (empty without hidden states).
    private var hidden: [[UInt16]]
    static let hiddenStatesField = "nanoforge.teacher_cache.hidden_states"
    private var changed = false

    /// Opens the cache at `path` (nil: memory only) for `teachers` fingerprints, or starts empty.
    /// `hiddenWidth`: keep the teachers' hidden states of that width too.
    init(path: String?, teachers: [String], studentVocabulary: String, dataFile: String, windows: Int, length: Int, k: Int,
         temperature: Float, hiddenWidth: Int? = nil) throws {
        self.path = path; self.windows = windows; self.length = length; self.k = k; self.hiddenWidth = hiddenWidth
        var key = ["nanoforge.teacher_cache.content": Self.content,
                   "nanoforge.teacher_cache.data_sha256": try SHA256.hex(file: dataFile),
                   "nanoforge.teacher_cache.student_vocabulary_sha256": studentVocabulary,
                   "nanoforge.teacher_cache.windows": String(windows), "nanoforge.teacher_cache.length": String(length),
                   "nanoforge.teacher_cache.top_k": String(k), "nanoforge.teacher_cache.temperature": String(temperature),
                   "nanoforge.teacher_cache.teachers": String(teachers.count),
                   Self.hiddenStatesField: hiddenWidth.map { "float16 after the final norm, width \($0)" } ?? "none"]
        for (i, t) in teachers.enumerated() { key["nanoforge.teacher_cache.teacher.\(i).sha256"] = t }
        self.key = key
        let slots = windows * length * k
        ids = teachers.map { _ in [Int32](repeating: -1, count: slots) }
        probabilities = teachers.map { _ in [Float](repeating: 0, count: slots) }
        remainder = teachers.map { _ in [Float](repeating: 1, count: windows * length) }
        present = teachers.map { _ in [Bool](repeating: false, count: windows) }
        hidden = teachers.map { _ in [UInt16](repeating: 0, count: hiddenWidth.map { windows * length * $0 } ?? 0) }
        guard let path, FileManager.default.fileExists(atPath: path) else { return }
        let store = try HDF5CheckpointReader.read(path: path)
        for (field, expected) in key.sorted(by: { $0.key < $1.key }) {
            let cached = store.metadata[field] ?? (field == Self.hiddenStatesField ? "none" : "absent")
            if cached != expected { throw TrainingError.staleTeacherCache(file: path, field: field, cached: cached, expected: expected) }
        }
        for i in teachers.indices {
            guard let d = store["teacher.\(i).ids"], let p = store["teacher.\(i).probabilities"], let r = store["teacher.\(i).remainder"],
                  let flags = store["teacher.\(i).present"], d.shape == [windows, length, k], p.shape == d.shape,
                  r.shape == [windows, length], flags.shape == [windows] else {
                throw TrainingError.staleTeacherCache(file: path, field: "teacher.\(i) datasets", cached: "missing or of another shape",
                                                      expected: "[\(windows), \(length), \(k)] ids and probabilities, [\(windows), \(length)], [\(windows)]")
            }
            ids[i] = d.integers().map { Int32(truncatingIfNeeded: $0) }
            probabilities[i] = p.floatTensor().scalars
            remainder[i] = r.floatTensor().scalars
            present[i] = flags.integers().map { $0 != 0 }
            if let d = hiddenWidth {
                guard let h = store["teacher.\(i).hidden"], h.dtype == .f16, h.shape == [windows, length, d] else {
                    throw TrainingError.staleTeacherCache(file: path, field: "teacher.\(i).hidden", cached: "missing or of another type or shape",
                                                          expected: "F16 [\(windows), \(length), \(d)]")
                }
                hidden[i] = h.data.withUnsafeBytes { raw in (0..<h.elementCount).map { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) } }
            }
        }
    }

    /// The SHA-256 of a model's parameters (names, shapes, F32 bytes) and its tokens.
    static func fingerprint(_ model: any NextTokenLogitsModel, tokens: [String]) -> String {
        var hash = SHA256()
        for (name, variable) in model.namedParameters {
            hash.update(Array("\(name)\(variable.shape)".utf8))
            variable.value.scalars.withUnsafeBytes { hash.update($0) }
        }
        hash.update(Array(vocabularyFingerprint(tokens).utf8))
        return hash.finalize()
    }

    static func vocabularyFingerprint(_ tokens: [String]) -> String {
        var hash = SHA256()
        for token in tokens { hash.update(Array(token.utf8)); hash.update([0]) }
        return hash.finalize()
    }

    func has(teacher t: Int, window w: Int) -> Bool { present[t][w] }

    /// Teacher `t`'s distributions over window `w` ([length] rows), which must be present.
    func distribution(teacher t: Int, window w: Int) -> TopKDistribution {
        precondition(present[t][w], "TeacherTopKCache: window \(w) of teacher \(t) was not computed")
        let slots = (w * length * k)..<((w + 1) * length * k)
        return TopKDistribution(rows: length, k: k, ids: Array(ids[t][slots]), probabilities: Array(probabilities[t][slots]),
                                remainder: Array(remainder[t][(w * length)..<((w + 1) * length)]))
    }

    /// Teacher `t`'s hidden states over `windows` (each present) as [windows.count, length, D].
    func hiddenStates(teacher t: Int, windows ws: [Int]) -> Tensor {
        guard let d = hiddenWidth else { preconditionFailure("TeacherTopKCache: no hidden states kept") }
        let size = length * d
        var bits: [UInt16] = []
        bits.reserveCapacity(ws.count * size)
        for w in ws {
            precondition(present[t][w], "TeacherTopKCache: window \(w) of teacher \(t) was not computed")
            bits += hidden[t][(w * size)..<((w + 1) * size)]
        }
        return Tensor(shape: [ws.count, length, d], scalars: HalfPrecision.floats(fromFloat16: bits))
    }

    /// Stores window `w` of teacher `t`: its distributions and, when the cache keeps them, its
    /// hidden states [length · D] (required then).
    func store(teacher t: Int, window w: Int, _ d: TopKDistribution, hidden states: [Float]? = nil) {
        precondition(d.rows == length && d.k == k, "TeacherTopKCache: \(d.rows)×\(d.k) for \(length)×\(k)")
        if let width = hiddenWidth {
            guard let states, states.count == length * width else { preconditionFailure("TeacherTopKCache: hidden states of \(length)×\(width) required") }
            hidden[t].replaceSubrange((w * length * width)..<((w + 1) * length * width), with: HalfPrecision.float16Bits(states))
        }
        ids[t].replaceSubrange((w * length * k)..<((w + 1) * length * k), with: d.ids)
        probabilities[t].replaceSubrange((w * length * k)..<((w + 1) * length * k), with: d.probabilities)
        remainder[t].replaceSubrange((w * length)..<((w + 1) * length), with: d.remainder)
        present[t][w] = true
        changed = true
    }

    /// Bytes of the stored arrays (what the file holds, without HDF5's overhead).
    var byteCount: Int { ids.count * (windows * length * k * 8 + windows * length * 4 + windows + windows * length * (hiddenWidth ?? 0) * 2) }

    /// Bytes of the hidden states alone (0 without them).
    var hiddenByteCount: Int { hidden.reduce(0) { $0 + $1.count * 2 } }

    /// Writes the cache (atomically) when windows were added and a path is set.
    func save() throws {
        guard changed, let path else { return }
        var store = TensorStore(metadata: key)
        for t in ids.indices {
            store.insert(StoredTensor.encoding(integers: ids[t].map(Int64.init), shape: [windows, length, k], name: "teacher.\(t).ids", as: .i32))
            store.insert(StoredTensor.encoding(Tensor(shape: [windows, length, k], scalars: probabilities[t]), name: "teacher.\(t).probabilities"))
            store.insert(StoredTensor.encoding(Tensor(shape: [windows, length], scalars: remainder[t]), name: "teacher.\(t).remainder"))
            store.insert(StoredTensor.encoding(integers: present[t].map { $0 ? 1 : 0 }, shape: [windows], name: "teacher.\(t).present", as: .u8))
            if let d = hiddenWidth {
                let bytes = hidden[t].withUnsafeBufferPointer { Data(buffer: $0) }   // little-endian hosts (x86-64, arm64)
                store.insert(StoredTensor(name: "teacher.\(t).hidden", dtype: .f16, shape: [windows, length, d], data: bytes))
            }
        }
        try HDF5CheckpointWriter.write(store, to: path)
        changed = false
    }
}
