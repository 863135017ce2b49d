import Foundation
import Testing
import NanoCheckpoint
import NanoTensor

/// Seeded mutations of a valid file: the reader either returns tensors that all lie inside the
/// data, or throws a `CheckpointError`. A trap here would crash the test process.
@Suite struct SafetensorsRobustnessTests {
    static func base() throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: SafetensorsFixtures.path("multi.safetensors")))
    }

    /// Reads `data`; accepted stores must be internally consistent. Returns whether it was accepted.
    @discardableResult
    static func check(_ data: Data, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let store: TensorStore
        do {
            store = try SafetensorsReader.read(data: data, source: label)
        } catch is CheckpointError {
            return false
        } catch {
            Issue.record("\(label): not a CheckpointError: \(error)", sourceLocation: sourceLocation)
            return false
        }
        var ranges: [(String, Range<Int>)] = []
        for t in store.tensors {
            let inside = t.data.startIndex >= data.startIndex + 8 && t.data.endIndex <= data.endIndex
            #expect(inside, "\(label): '\(t.name)' at \(t.data.startIndex)..<\(t.data.endIndex) of \(data.count)", sourceLocation: sourceLocation)
            #expect(t.byteCount == t.elementCount * t.dtype.size, "\(label): '\(t.name)'", sourceLocation: sourceLocation)
            // Decoding touches every byte; it must not trap either.
            _ = t.floatTensor()
            _ = t.integers()
            if t.byteCount > 0 { ranges.append((t.name, t.data.startIndex..<t.data.endIndex)) }
        }
        ranges.sort { $0.1.lowerBound < $1.1.lowerBound }
        for (a, b) in zip(ranges, ranges.dropFirst()) {
            #expect(a.1.upperBound <= b.1.lowerBound, "\(label): '\(a.0)' overlaps '\(b.0)'", sourceLocation: sourceLocation)
        }
        return true
    }

    @Test func baseFileIsAccepted() throws {
        #expect(Self.check(try Self.base(), "base"))
    }

    /// Every prefix: only the complete file (and none shorter) is accepted, as the last tensor ends the file.
    @Test func everyTruncationIsRejected() throws {
        let data = try Self.base()
        for length in 0..<data.count {
            #expect(!Self.check(data.prefix(length), "prefix \(length)"), "prefix of \(length) bytes accepted")
        }
    }

    /// 1–4 random bytes overwritten, mostly in the header (where the structure is).
    @Test func randomByteFlips() throws {
        let data = try Self.base()
        let headerEnd = 8 + Int(data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        let syntax = Array("{}[]\",:0123456789-e.".utf8)
        var rng = RandomGenerator(seed: 2024)
        var accepted = 0
        for i in 0..<1_000 {
            var mutant = data
            for _ in 0..<(1 + rng.nextInt(below: 4)) {
                let at = rng.nextInt(below: 5) == 0 ? rng.nextInt(below: data.count) : rng.nextInt(below: headerEnd)
                mutant[at] = rng.nextInt(below: 2) == 0 ? UInt8(truncatingIfNeeded: rng.next()) : syntax[rng.nextInt(below: syntax.count)]
            }
            if Self.check(mutant, "flip \(i)") { accepted += 1 }
        }
        #expect(accepted > 0, "some flips (in data bytes or padding) leave a valid file")
    }

    /// The 8-byte header length replaced with random, boundary and near-miss values.
    @Test func randomHeaderLengths() throws {
        let data = try Self.base()
        var rng = RandomGenerator(seed: 77)
        var lengths: [UInt64] = [0, 1, 7, 8, UInt64(data.count - 8), UInt64(data.count - 7), UInt64(data.count), 100_000_000, 100_000_001,
                                 1 << 40, 1 << 63, UInt64(Int.max), UInt64(Int.max) + 1, .max, .max - 7]
        while lengths.count < 500 {
            switch rng.nextInt(below: 3) {
            case 0: lengths.append(rng.next())
            case 1: lengths.append(UInt64(rng.nextInt(below: data.count + 64)))
            default: lengths.append(rng.next() >> UInt64(rng.nextInt(below: 64)))
            }
        }
        for n in lengths {
            var mutant = data
            withUnsafeBytes(of: n.littleEndian) { mutant.replaceSubrange(0..<8, with: $0) }
            Self.check(mutant, "header length \(n)")
        }
    }

    /// Slices that do not start at index 0 (as a memory-mapped region or a sub-range may) read the same.
    @Test func readsFromASliceWithAnOffsetStartIndex() throws {
        let data = try Self.base()
        let padded = Data([1, 2, 3]) + data + Data([4, 5])
        let slice = padded[3..<(3 + data.count)]
        #expect(slice.startIndex == 3)
        let a = try SafetensorsReader.read(data: data, source: "a")
        let b = try SafetensorsReader.read(data: slice, source: "b")
        #expect(a.names == b.names)
        for t in a.tensors { #expect(b[t.name]?.data == t.data, "\(t.name)") }
        #expect(Self.check(slice, "slice"))
    }
}
