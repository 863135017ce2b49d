import Foundation
import Testing
import NanoCheckpoint
import TestSupport

/// SHA-256 against the FIPS 180-4 examples and Python's hashlib on files of awkward lengths.
@Suite struct SHA256Tests {
    @Test func knownDigests() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func filesMatchHashlib() throws {
        try PythonRunner.require(modules: ["hashlib"])
        try withTemporaryDirectory { dir in
            for (i, count) in [1, 55, 56, 63, 64, 65, 1000, 1 << 20, (1 << 20) + 17].enumerated() {
                let path = "\(dir)/f\(i)"
                let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                let expected = try PythonRunner.run("import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
                                                    arguments: [path]).trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(try SHA256.hex(file: path) == expected, "\(count) bytes")
            }
        }
    }
}
