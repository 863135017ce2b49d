import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// `distill: { teacher_cache: PATH }`: the teachers' sentence embeddings in HDF5.
@Suite struct TeacherCacheTests {
    typealias Fixture = TrainingLoopTests

    static func run(_ teacher: SentenceEncoder, _ dir: String, cache: String?) throws -> DistillationPass.Result {
        let cacheField = cache.map { ", teacher_cache: \($0)" } ?? ""
        let o = try DistillationTests.options("{ layers: [0], losses: [{loss: embedding_cosine}, {loss: embedding_mse}], data: \(dir)/train.txt, steps: 12, batch_size: 8, learning_rate: 0.002\(cacheField) }")
        return try DistillationPass(options: o, seed: 3).run(model: .sentenceEncoder(teacher), teachers: [.init(model: .sentenceEncoder(teacher))])
    }

    static func weights(_ result: DistillationPass.Result) -> [Tensor] { result.student.container.namedParameters.map(\.variable.value) }

    @Test func cachedRunsTrainTheSameStudentAndAStaleCacheIsRefused() throws {
        try withTemporaryDirectory { dir in
            let teacher = try Fixture.tinyEncoder(layers: 2)
            try (Fixture.sentences(40, seed: 5).joined(separator: "\n") + "\n").write(toFile: dir + "/train.txt", atomically: true, encoding: .utf8)
            let path = dir + "/teacher.h5"
            let plain = try Self.run(teacher, dir, cache: nil)
            let filling = try Self.run(teacher, dir, cache: path)      // builds the cache
            let reading = try Self.run(teacher, dir, cache: path)      // reads it
            // The reading run sees the very values the filling run computed or read: the same student.
            #expect(Self.weights(reading) == Self.weights(filling))
            // From its second epoch the filling run reads rows computed within other batches (other
            // padding); the encoder's rows do not depend on their batch, so nothing changes at all.
            let drift = zip(Self.weights(filling), Self.weights(plain)).map { a, b in zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
            print("teacher cache: largest weight difference from the run without a cache \(drift)")
            #expect(drift == 0)     // measured 0.0
            // 12 steps over 5 batches per epoch: the first run misses in its first epoch only, the second never.
            #expect(filling.teacherCache?.misses == 5 && filling.teacherCache?.hits == 7)
            #expect(reading.teacherCache?.misses == 0 && reading.teacherCache?.hits == 12)

            // Another teacher: refused, naming the file and the field.
            let other = try Fixture.tinyEncoder(layers: 2, seed: 12)
            #expect { try Self.run(other, dir, cache: path) } throws: { error in
                guard case TrainingError.staleTeacherCache(let file, let field, _, _) = error else { return false }
                return file == path && field == "nanoforge.teacher_cache.teacher.0.sha256"
            }
            // Other data (same count): refused for its hash.
            try (Fixture.sentences(40, seed: 6).joined(separator: "\n") + "\n").write(toFile: dir + "/train.txt", atomically: true, encoding: .utf8)
            #expect { try Self.run(teacher, dir, cache: path) } throws: { error in
                guard case TrainingError.staleTeacherCache(_, let field, _, _) = error else { return false }
                return field == "nanoforge.teacher_cache.data_sha256"
            }
        }
    }

    @Test func h5pyReadsTheCache() throws {
        try PythonRunner.require(modules: ["h5py", "numpy"])
        try withTemporaryDirectory { dir in
            let teacher = try Fixture.tinyEncoder(layers: 1)
            let sentences = Fixture.sentences(16, seed: 9)
            try (sentences.joined(separator: "\n") + "\n").write(toFile: dir + "/train.txt", atomically: true, encoding: .utf8)
            let path = dir + "/teacher.h5"
            _ = try Self.run(teacher, dir, cache: path)
            let seen = try PythonRunner.run(#"""
                import h5py, json, sys
                import numpy as np
                with h5py.File(sys.argv[1], "r") as f:
                    e = np.asarray(f["teacher/0/sentence_embeddings"])
                    p = np.asarray(f["teacher/0/present"])
                    attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f.attrs.items()}
                    print(json.dumps({"shape": list(e.shape), "dtype": e.dtype.str, "present": int(p.sum()),
                                      "first": [float(x) for x in e[0]], "attrs": attrs}))
                """#, arguments: [path])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(seen.utf8)) as? [String: Any])
            #expect(json["shape"] as? [Int] == [16, 32] && json["dtype"] as? String == "<f4" && json["present"] as? Int == 16)
            let attrs = try #require(json["attrs"] as? [String: String])
            #expect(attrs["nanoforge.teacher_cache.content"] == "sentence_embeddings")
            #expect(attrs["nanoforge.teacher_cache.data_sha256"] == (try SHA256.hex(file: dir + "/train.txt")))
            #expect(attrs["nanoforge.teacher_cache.teacher.0.sha256"] == TeacherCache.fingerprint(teacher))
            // Row 0 is the teacher's embedding of sentence 0 (computed within its batch: float noise only).
            let expected = teacher.encode([sentences[0]])
            let first = try #require(json["first"] as? [Double])
            #expect(zip(first, expected.scalars).allSatisfy { abs($0 - Double($1)) < 1e-5 })
        }
    }
}
