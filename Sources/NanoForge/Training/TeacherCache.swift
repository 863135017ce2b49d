import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// The teachers' pooled sentence embeddings over a training set, kept in an HDF5 file (`distill:
/// { teacher_cache: PATH }`) so that later runs and epochs skip the teacher forward passes.
///
/// Rows fill lazily: a batch whose sentences are all cached reads them; any other batch runs the
/// teachers on the whole batch, as without a cache, and stores the rows it lacked. A run that
/// fills the cache therefore trains exactly as one without it, and a repeat run with the same
/// seed and batches reads the very values the first computed. The file is keyed by what decides
/// its contents: the SHA-256 of each teacher's weights, vocabulary and sequence length, the
/// SHA-256 of the data file, the sentence count and what is cached (sentence embeddings only:
/// hidden states would be B·T·D per sentence). A key that differs is an error naming the file and
/// the field; delete the file to rebuild it. It is (re)written atomically at the end of the run.
///
/// Layout (docs/formats.md native layout): datasets `teacher/<i>/sentence_embeddings` [N, D_i]
/// (F32) and `teacher/<i>/present` [N] (U8, 1 where a row is filled); root attributes
/// `nanoforge.teacher_cache.*` hold the key.
public final class TeacherCache {
    public static let content = "sentence_embeddings"
    public let path: String
    let key: [String: String]
    var embeddings: [[Float]]
    var present: [[Bool]]
    let widths: [Int]
    var changed = false
    public private(set) var hits = 0, misses = 0

    /// Opens the cache at `path` for `teachers` over `sentenceCount` sentences of `dataFile`, or
    /// starts an empty one when the file does not exist.
    public init(path: String, teachers: [SentenceEncoder], dataFile: String, sentenceCount: Int) throws {
        self.path = path
        widths = teachers.map(\.encoder.configuration.width)
        var key = ["nanoforge.teacher_cache.content": Self.content,
                   "nanoforge.teacher_cache.data_sha256": try SHA256.hex(file: dataFile),
                   "nanoforge.teacher_cache.sentences": String(sentenceCount),
                   "nanoforge.teacher_cache.teachers": String(teachers.count)]
        for (i, t) in teachers.enumerated() { key["nanoforge.teacher_cache.teacher.\(i).sha256"] = Self.fingerprint(t) }
        self.key = key
        embeddings = widths.map { [Float](repeating: 0, count: sentenceCount * $0) }
        present = widths.map { _ in [Bool](repeating: false, count: sentenceCount) }
        guard FileManager.default.fileExists(atPath: path) else { return }
        let store = try HDF5CheckpointReader.read(path: path)
        for (field, expected) in key.sorted(by: { $0.key < $1.key }) where store.metadata[field] != expected {
            throw TrainingError.staleTeacherCache(file: path, field: field, cached: store.metadata[field] ?? "absent", expected: expected)
        }
        for i in teachers.indices {
            guard let e = store["teacher.\(i).sentence_embeddings"], let p = store["teacher.\(i).present"],
                  e.shape == [sentenceCount, widths[i]], p.shape == [sentenceCount] else {
                throw TrainingError.staleTeacherCache(file: path, field: "teacher.\(i) datasets", cached: "missing or of another shape",
                                                      expected: "[\(sentenceCount), \(widths[i])] and [\(sentenceCount)]")
            }
            embeddings[i] = e.floatTensor().scalars
            present[i] = p.integers().map { $0 != 0 }
        }
    }

    /// The SHA-256 of a teacher's parameters (names, shapes, F32 bytes), vocabulary and maximum
    /// length: what its embeddings depend on, whether it came from a file or an earlier stage.
    public static func fingerprint(_ teacher: SentenceEncoder) -> String {
        var hash = SHA256()
        for (name, variable) in teacher.encoder.namedParameters {
            hash.update(Array("\(name)\(variable.shape)".utf8))
            variable.value.scalars.withUnsafeBytes { hash.update($0) }
        }
        hash.update(Array("maxLength \(teacher.maxLength)\n".utf8))
        for token in teacher.tokenizer.vocabulary { hash.update(Array(token.utf8)); hash.update([0]) }
        return hash.finalize()
    }

    /// The cached embeddings [B, D] of teacher `t` for sentences `rows`, or nil when any is missing.
    public func embeddings(teacher t: Int, rows: [Int]) -> Tensor? {
        guard rows.allSatisfy({ present[t][$0] }) else { misses += 1; return nil }
        hits += 1
        let d = widths[t]
        return Tensor(shape: [rows.count, d], scalars: rows.flatMap { embeddings[t][$0 * d..<($0 + 1) * d] })
    }

    /// Stores teacher `t`'s embeddings [B, D] of sentences `rows` where they are missing.
    public func store(teacher t: Int, rows: [Int], _ values: Tensor) {
        let d = widths[t]
        for (k, row) in rows.enumerated() where !present[t][row] {
            embeddings[t].replaceSubrange(row * d..<(row + 1) * d, with: values.scalars[k * d..<(k + 1) * d])
            present[t][row] = true
            changed = true
        }
    }

    /// Writes the cache (atomically) when rows were added.
    public func save() throws {
        guard changed else { return }
        var store = TensorStore(metadata: key)
        for t in widths.indices {
            store.insert(StoredTensor.encoding(Tensor(shape: [present[t].count, widths[t]], scalars: embeddings[t]),
                                               name: "teacher.\(t).sentence_embeddings"))
            store.insert(StoredTensor.encoding(integers: present[t].map { $0 ? 1 : 0 }, shape: [present[t].count],
                                               name: "teacher.\(t).present", as: .u8))
        }
        try HDF5CheckpointWriter.write(store, to: path)
        changed = false
    }
}
