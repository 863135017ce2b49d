import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// Decoders in recipes: the character vocabulary travels in the config, and `distill` trains a
/// fresh decoder student on a teacher's next-character distributions (a tiny version of
/// Recipes/chargpt-distill.yaml, seconds instead of minutes).
@Suite(.serialized) struct DecoderDistillationTests {
    /// A teacher (2 layers, width 48, 150 steps) trained by `CharLMTraining` on the first 60,000
    /// characters of pydoc-topics.txt, saved as `nanoforge demo --chargpt --save` does, with the
    /// text split 90 / 10 into train.txt and heldout.txt.
    static func makeTeacher(_ dir: String) throws -> (vocabulary: CharacterVocabulary, teacher: GPTDecoder) {
        let full = try String(contentsOfFile: try RepositoryPaths.requireCached("data/pydoc-topics.txt"), encoding: .utf8)
        let text = String(full.unicodeScalars.prefix(60_000))
        var o = CharLMTraining.Options()
        (o.layers, o.width, o.heads, o.contextLength, o.batchSize, o.steps, o.warmupSteps) = (2, 48, 4, 32, 16, 150, 15)
        let (teacher, _) = CharLMTraining.run(text: text, options: o)
        let folder = dir + "/teacher"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = ModelSpec.decoder(teacher.configuration).nativeJSON.serialized
        try SafetensorsWriter.write(TensorStore(tensors: teacher.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) },
                                                metadata: ["nanoforge.config": config]), to: folder + "/model.safetensors")
        try config.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        let scalars = Array(text.unicodeScalars), cut = scalars.count * 9 / 10
        func string(_ s: ArraySlice<Unicode.Scalar>) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: s); return String(v) }
        try string(scalars[..<cut]).write(toFile: dir + "/train.txt", atomically: true, encoding: .utf8)
        try string(scalars[cut...]).write(toFile: dir + "/heldout.txt", atomically: true, encoding: .utf8)
        var student = GPTDecoder.Configuration(vocabularySize: teacher.configuration.vocabularySize, contextLength: 32, width: 24, layers: 1, heads: 2)
        student.feedForwardWidth = 64
        try ModelSpec.decoder(student).nativeJSON.serialized.write(toFile: dir + "/student.json", atomically: true, encoding: .utf8)
        return (CharacterVocabulary(characters: teacher.configuration.characters!)!, teacher)
    }

    static func recipe(_ dir: String, losses: String, output: String) -> String {
        """
        name: tiny-chargpt
        model: { path: \(dir)/teacher }
        seed: 3
        evaluation:
          - { task: perplexity, data: \(dir)/heldout.txt }
        stages:
          - distill: { config: \(dir)/student.json, losses: \(losses), data: \(dir)/train.txt, steps: 120, batch_size: 16, learning_rate: 0.005, warmup: 10 }
        output: { dir: \(dir)/\(output) }
        """
    }

    @Test func theVocabularyTravelsInTheConfigAndEveryCharacterRoundTrips() throws {
        let corpus = "ab\n\t\"\\é€😀 z"
        let vocabulary = CharacterVocabulary(corpus: corpus)
        var c = GPTDecoder.Configuration(vocabularySize: vocabulary.count, contextLength: 8, width: 8, layers: 1, heads: 2)
        c.characters = vocabulary.characters
        let parsed = try ModelSpec.parse(try JSONParser.parse(Array(ModelSpec.decoder(c).nativeJSON.serialized.utf8)), file: "config.json")
        guard let back = parsed.configuration(as: GPTDecoder.Configuration.self) else { Issue.record("not a decoder: \(parsed)"); return }
        #expect(back == c)
        #expect(CharacterVocabulary(characters: back.characters!) == vocabulary)
        #expect(CharacterVocabulary(characters: "aba") == nil)
        // A decoder config without characters is refused by recipes with the reason.
        c.characters = nil
        var rng = RandomGenerator(seed: 0)
        let withoutCharacters = GPTDecoder(c, rng: &rng)
        #expect(throws: PipelineError.self) {
            try EvaluatedModel.characterVocabulary(withoutCharacters, path: "m", recipe: "r.yaml", architecture: "gpt_decoder")
        }
    }

    /// Distillation from the teacher against the same student trained on the text alone, at equal
    /// steps: both learn (perplexity far below the vocabulary size), the student loads back with
    /// its vocabulary, and the teacher's signal gives the lower held-out perplexity.
    @Test func logitDistillationBeatsTheSameStudentWithoutTheTeacher() throws {
        try withTemporaryDirectory { dir in
            let (vocabulary, _) = try Self.makeTeacher(dir)
            let kd = try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, losses: "[{ loss: logit_kl, temperature: 2 }, { loss: task }]", output: "kd"), file: "kd.yaml")).run()
            let plain = try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, losses: "[{ loss: task }]", output: "plain"), file: "plain.yaml")).run()
            expectLossFell(kd.stages[1])
            expectLossFell(plain.stages[1])
            let teacher = kd.stages[0].metrics["perplexity"]!, student = kd.stages[1].metrics["perplexity"]!, baseline = plain.stages[1].metrics["perplexity"]!
            print("tiny chargpt held-out perplexity: teacher \(teacher), KD student \(student), student without teacher \(baseline)")
            #expect(teacher < student)
            #expect(student < Double(vocabulary.count) / 4)
            #expect(student < baseline)
            let loaded = try EvaluatedModel.load(path: dir + "/kd", recipe: "kd.yaml").model
            guard let d = loaded.as(GPTDecoder.self), let v = loaded.decoder?.vocabulary else { Issue.record("not a decoder"); return }
            #expect(v == vocabulary && d.configuration.layers == 1 && d.configuration.width == 24)
        }
    }
}
