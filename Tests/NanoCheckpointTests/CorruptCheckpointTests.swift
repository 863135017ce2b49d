import Foundation
import Testing
import NanoCheckpoint
import TestSupport

/// Every malformed file under Fixtures/checkpoints/corrupt is rejected through `CheckpointReader`
/// with the typed error that Fixtures/checkpoints/corrupt/expected-errors.json names: no crash,
/// no trap, no read past the end.
@Suite struct CorruptCheckpointTests {
    struct Expectation: Decodable {
        let `case`: String
        let contains: String
        let why: String
    }

    static let folder = SafetensorsFixtures.corruptFolder

    /// The corpus, listed from disk so a new file cannot be forgotten.
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasSuffix(".safetensors") }.sorted()

    static func expectations() throws -> [String: Expectation] {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/expected-errors.json"))
        return try JSONDecoder().decode([String: Expectation].self, from: data)
    }

    static func caseName(_ error: CheckpointError) -> String {
        switch error {
        case .unreadable: return "unreadable"
        case .unknownFormat: return "unknownFormat"
        case .truncated: return "truncated"
        case .malformedHeader: return "malformedHeader"
        case .invalidTensor: return "invalidTensor"
        case .unsupportedDType: return "unsupportedDType"
        case .missingTensor: return "missingTensor"
        case .unexpectedTensor: return "unexpectedTensor"
        case .shapeMismatch: return "shapeMismatch"
        case .invalidConfig: return "invalidConfig"
        case .hdf5: return "hdf5"
        case .writeFailed: return "writeFailed"
        case .libraryFailed: return "libraryFailed"
        }
    }

    @Test func corpusAndExpectationsMatch() throws {
        #expect(Self.files.count >= 16)
        let named = Set(try Self.expectations().keys.filter { $0.hasSuffix(".safetensors") })
        #expect(Set(Self.files) == named)
    }

    @Test(arguments: files)
    func corruptFileIsRejected(file: String) throws {
        let expected = try #require(try Self.expectations()[file], "\(file) has no entry in expected-errors.json")
        let path = Self.folder + "/" + file
        do {
            let store = try CheckpointReader.read(path: path)
            Issue.record("\(file) (\(expected.why)) was read as \(store.names)")
        } catch let error as CheckpointError {
            #expect(Self.caseName(error) == expected.case, "\(file): \(error)")
            #expect(error.description.contains(expected.contains), "\(file): '\(error)' lacks '\(expected.contains)'")
            #expect(error.file == path)
        }
    }

    /// Model folders whose checkpoint reads but does not fit the config (names ending in '/' in
    /// expected-errors.json): refused by `ModelLoader.load`, naming the weights file.
    @Test(arguments: ["wrong-architecture/", "int-weights/"])
    func modelFolderThatDoesNotFitIsRejected(folder: String) throws {
        let expected = try #require(try Self.expectations()[folder], "\(folder) has no entry in expected-errors.json")
        let path = Self.folder + "/" + folder
        #expect(try CheckpointReader.read(path: path + "model.safetensors").count == 4)
        do {
            _ = try ModelLoader.load(path: path)
            Issue.record("\(folder) (\(expected.why)) was loaded")
        } catch let error as CheckpointError {
            #expect(Self.caseName(error) == expected.case, "\(folder): \(error)")
            #expect(error.description.contains(expected.contains), "\(folder): '\(error)' lacks '\(expected.contains)'")
            #expect(error.file == path + "model.safetensors")
        }
    }

    /// The description starts with the path it was given, wherever the file lives.
    @Test(arguments: ["truncated.safetensors", "unknown-dtype.safetensors", "empty.safetensors", "non-utf8-header.safetensors"])
    func errorDescriptionNamesTheFile(file: String) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("copy of \(file)")
        try FileManager.default.copyItem(atPath: Self.folder + "/" + file, toPath: path)
        #expect {
            try CheckpointReader.read(path: path)
        } throws: { error in
            (error as? CheckpointError)?.description.hasPrefix(path + ": ") == true
        }
    }

    /// Errors that concern one tensor carry its name in the case itself, not only in the text.
    @Test func tensorErrorsCarryTheTensorName() throws {
        let cases: [(String, String)] = [("duplicate-name", "dup.weight"), ("negative-shape", "neg"), ("shape-overflow", "huge"),
                                         ("overlapping-offsets", "second"), ("unknown-dtype", "quant.weight")]
        for (file, tensor) in cases {
            let path = Self.folder + "/" + file + ".safetensors"
            #expect {
                try CheckpointReader.read(path: path)
            } throws: { error in
                switch error as? CheckpointError {
                case .invalidTensor(_, let t, _), .unsupportedDType(_, let t, _): return t == tensor
                default: return false
                }
            }
        }
    }
}
