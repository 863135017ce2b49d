import Testing
@testable import NanoExport

/// `FlatBufferBuilder` against bytes not computed by it: the first case decoded by hand below,
/// the expected buffers of all four written by the reference Python builder (PyPI `flatbuffers`
/// 25.12.19, `flatbuffers.Builder(0)`, the same calls in the same order; the calls are in each
/// test's comment).
struct TFLiteFlatBufferTests {
    static func hex(_ text: String) -> [UInt8] { text.split(separator: " ").map { UInt8($0, radix: 16)! } }

    /// StartObject(3); PrependInt32Slot(0, 7); PrependUint8Slot(2, 1); Finish(t, b"TEST").
    /// By hand: [0] root uoffset 20; [4] "TEST"; [8] 2 bytes padding; [10] the vtable: its size 10
    /// (4 + 2·3 ids), the table's size 12, field 0 at +8, field 1 absent (0), field 2 at +7;
    /// [20] the table: soffset 10 (vtable = 20 − 10); [24] 3 bytes padding; [27] the uint8 1;
    /// [28] the int32 7, aligned to 4.
    @Test func tableWithAnAbsentFieldAndFileIdentifier() {
        var b = FlatBufferBuilder()
        b.startTable()
        b.field(0, Int32(7))
        b.field(2, UInt8(1))
        let table = b.endTable()
        #expect(b.finish(root: table, identifier: "TEST") == Self.hex(
            "14 00 00 00 54 45 53 54 00 00 0a 00 0c 00 08 00 00 00 07 00 0a 00 00 00 00 00 00 01 07 00 00 00"))
    }

    /// CreateString("hi"); StartVector(4, 3, 4) of int32 1, 2, 3; StartObject(2) with the string at 0
    /// and the vector at 1: strings end in a 0 and pad to 4, vectors count first.
    @Test func stringsAndVectors() {
        var b = FlatBufferBuilder()
        let string = b.string("hi")
        let vector = b.vector([Int32(1), 2, 3])
        b.startTable()
        b.field(0, offset: string)
        b.field(1, offset: vector)
        let table = b.endTable()
        #expect(b.finish(root: table, identifier: "TEST") == Self.hex(
            "10 00 00 00 54 45 53 54 08 00 0c 00 08 00 04 00 08 00 00 00 08 00 00 00 14 00 00 00 03 00 00 00"
            + " 01 00 00 00 02 00 00 00 03 00 00 00 02 00 00 00 68 69 00 00"))
    }

    /// Two tables {0: int16 5}, {0: int16 6} (one vtable, shared: the second table's soffset is
    /// negative), a vector of the two, and a root table holding it.
    @Test func identicalVtablesAreWrittenOnce() {
        var b = FlatBufferBuilder()
        let tables = [Int16(5), 6].map { value -> FlatBufferBuilder.Offset in
            b.startTable()
            b.field(0, value)
            return b.endTable()
        }
        let vector = b.vector(offsets: tables)
        b.startTable()
        b.field(0, offset: vector)
        let root = b.endTable()
        let bytes = b.finish(root: root, identifier: "TEST")
        #expect(bytes == Self.hex(
            "10 00 00 00 54 45 53 54 00 00 06 00 08 00 04 00 06 00 00 00 04 00 00 00 02 00 00 00 1c 00 00 00"
            + " 0c 00 00 00 00 00 06 00 06 00 04 00 06 00 00 00 06 00 06 00 08 00 06 00 06 00 00 00 00 00 05 00"))
        // Two vtables in all (the root's and the shared one): "06 00 06 00 04 00" occurs once.
        let shared = Self.hex("06 00 06 00 04 00")
        let occurrences = (0...(bytes.count - shared.count)).filter { Array(bytes[$0..<($0 + shared.count)]) == shared }
        #expect(occurrences.count == 1)
    }

    /// StartVector(1, 3, 16) of bytes 9, 8, 7 (TFLite's buffers: force_align 16); a table with
    /// the vector at 0, an int32 equal to its default 1 at 1 (left out), a float 1.5 at 2. The
    /// buffer is padded so the vector's data sits at a multiple of 16 from its start.
    @Test func alignedByteVectorDefaultsAndFloats() {
        var b = FlatBufferBuilder()
        let vector = b.vector([UInt8(9), 8, 7], alignment: 16)
        b.startTable()
        b.field(0, offset: vector)
        b.field(1, Int32(1), default: 1)
        b.field(2, Float(1.5))
        let table = b.endTable()
        let bytes = b.finish(root: table, identifier: "TEST")
        #expect(bytes == Self.hex(
            "20 00 00 00 54 45 53 54 00 00 00 00 00 00 00 00 00 00 00 00 00 00 0a 00 0c 00 08 00 00 00 04 00"
            + " 0a 00 00 00 00 00 c0 3f 04 00 00 00 03 00 00 00 09 08 07 00 00 00 00 00 00 00 00 00 00 00 00 00"))
        #expect(bytes.count % 16 == 0 && bytes.firstIndex(of: 9)! % 16 == 0)
    }
}
