/// A minimal FlatBuffers builder (the binary format of `.tflite` files), written as the reference
/// builders write: back to front, so every object a table or vector points at is already placed
/// at a higher address and every `uoffset` is positive.
///
/// - Scalars are little-endian and aligned to their own size; the whole buffer to the largest
///   alignment used (`minimumAlignment`), so alignment counted from the end holds from the start.
/// - A table is an `soffset` (int32) to its vtable, then its fields; the vtable lists, per field
///   id, the field's offset from the table start (0: absent, the schema default), after two
///   uint16: the vtable's own size and the table's size. Identical vtables are written once.
/// - A vector is a uint32 count then its elements; a string a vector of UTF-8 bytes with a 0 after.
///
/// Offsets returned (`Offset`) count from the end of the buffer, as in the reference builders.
struct FlatBufferBuilder {
    /// A position counted from the end of the finished buffer.
    typealias Offset = Int

    /// The buffer in reverse: `reversed[i]` is the byte at `count − 1 − i` of the finished buffer,
    /// so prepending is appending.
    private var reversed: [UInt8] = []
    private(set) var minimumAlignment = 1
    /// Field id → the field's offset while a table is open.
    private var fields: [Offset?] = []
    private var tableStart: Offset?
    /// Offsets of the vtables written, for de-duplication.
    private var vtables: [Offset] = []

    init(capacity: Int = 1024) { reversed.reserveCapacity(capacity) }

    /// Bytes written so far (the offset of the last thing prepended).
    var offset: Offset { reversed.count }

    /// Pads so that after `additional` more bytes, a value of `size` bytes lands aligned.
    mutating func align(_ size: Int, additional: Int = 0) {
        minimumAlignment = max(minimumAlignment, size)
        let padding = (-(reversed.count + additional)) & (size - 1)
        reversed.append(contentsOf: repeatElement(0, count: padding))
    }

    /// Prepends the bytes of `value` little-endian, without alignment.
    private mutating func push<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { bytes in
            for k in stride(from: bytes.count - 1, through: 0, by: -1) { reversed.append(bytes[k]) }
        }
    }

    /// Prepends an aligned scalar.
    mutating func add<T: FixedWidthInteger>(_ value: T) {
        align(MemoryLayout<T>.size)
        push(value)
    }

    mutating func add(_ value: Float) { add(value.bitPattern) }

    /// Prepends a uoffset pointing at `target` (written before).
    mutating func add(offset target: Offset) {
        align(4)
        precondition(target <= offset, "FlatBufferBuilder: an offset must point at an object written before it")
        push(UInt32(offset + 4 - target))
    }

    // MARK: Vectors and strings

    /// A vector of scalars; `alignment` raises the elements' alignment (TFLite's buffers use 16).
    mutating func vector<T: FixedWidthInteger>(_ elements: [T], alignment: Int = 1) -> Offset {
        let size = MemoryLayout<T>.size
        align(4, additional: size * elements.count)
        align(max(size, alignment), additional: size * elements.count)
        for e in elements.reversed() { push(e) }
        push(UInt32(elements.count))
        return offset
    }

    mutating func vector(_ elements: [Float]) -> Offset { vector(elements.map(\.bitPattern)) }

    /// A vector of uoffsets to tables or strings written before.
    mutating func vector(offsets: [Offset]) -> Offset {
        align(4, additional: 4 * offsets.count)
        for target in offsets.reversed() { add(offset: target) }
        push(UInt32(offsets.count))
        return offset
    }

    /// A string: its UTF-8 bytes, a 0, the count before them.
    mutating func string(_ text: String) -> Offset {
        let bytes = Array(text.utf8)
        align(4, additional: bytes.count + 1)
        reversed.append(0)
        reversed.append(contentsOf: bytes.reversed())
        push(UInt32(bytes.count))
        return offset
    }

    // MARK: Tables

    mutating func startTable() {
        precondition(tableStart == nil, "FlatBufferBuilder: tables do not nest while being built")
        fields = []
        tableStart = offset
    }

    private mutating func record(_ id: Int) {
        if fields.count <= id { fields.append(contentsOf: repeatElement(nil, count: id + 1 - fields.count)) }
        fields[id] = offset
    }

    /// A scalar field; left out when it equals the schema default, as the reference builders do.
    mutating func field<T: FixedWidthInteger>(_ id: Int, _ value: T, default defaultValue: T = 0) {
        guard value != defaultValue else { return }
        add(value)
        record(id)
    }

    mutating func field(_ id: Int, _ value: Float, default defaultValue: Float = 0) {
        guard value != defaultValue else { return }
        add(value)
        record(id)
    }

    mutating func field(_ id: Int, offset target: Offset) {
        add(offset: target)
        record(id)
    }

    /// Closes the table: its soffset, then its vtable (or one identical written before).
    mutating func endTable() -> Offset {
        guard let start = tableStart else { preconditionFailure("FlatBufferBuilder: endTable without startTable") }
        add(Int32(0))                                  // the soffset, patched below
        let table = offset
        while let last = fields.last, last == nil { fields.removeLast() }
        var entries: [UInt16] = [UInt16(4 + 2 * fields.count), UInt16(table - start)]
        entries += fields.map { $0.map { UInt16(table - $0) } ?? 0 }

        var vtable: Offset?
        for candidate in vtables where readUInt16s(at: candidate, count: 1)[0] == entries[0]
            && readUInt16s(at: candidate, count: entries.count) == entries {
            vtable = candidate
            break
        }
        if vtable == nil {
            for e in entries.reversed() { push(e) }
            vtable = offset
            vtables.append(offset)
        }
        // vtable = table − soffset, in addresses from the start (= total − offset).
        patch(Int32(vtable! - table), at: table)
        tableStart = nil
        return table
    }

    /// `count` uint16 stored at the object whose offset is `at`.
    private func readUInt16s(at position: Offset, count: Int) -> [UInt16] {
        (0..<count).map { k in
            let lo = reversed[position - 1 - 2 * k], hi = reversed[position - 2 - 2 * k]
            return UInt16(lo) | UInt16(hi) << 8
        }
    }

    private mutating func patch(_ value: Int32, at position: Offset) {
        let bits = UInt32(bitPattern: value)
        for k in 0..<4 { reversed[position - 1 - k] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(k))) }
    }

    // MARK: Finishing

    /// The finished buffer: the root table's uoffset, then the 4-byte file identifier.
    mutating func finish(root: Offset, identifier: String) -> [UInt8] {
        let id = Array(identifier.utf8)
        precondition(id.count == 4, "FlatBufferBuilder: a file identifier has 4 bytes")
        align(minimumAlignment, additional: 8)
        reversed.append(contentsOf: id.reversed())
        add(offset: root)
        return reversed.reversed()
    }
}
