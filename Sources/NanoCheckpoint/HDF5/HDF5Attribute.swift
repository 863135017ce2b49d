import CHDF5

/// An attribute's value as read from a file.
struct HDF5AttributeValue: Equatable {
    enum Content: Equatable {
        /// Fixed- or variable-length strings, padding removed, decoded as UTF-8 (invalid bytes
        /// replaced). Keras's byte strings (`layer_names`) arrive here too.
        case strings([String])
        case integers([Int64])
        case floats([Double])
        /// A null dataspace (h5py's `Empty`): a value with no elements.
        case empty
        /// A datatype this reader does not decode, described.
        case unsupported(String)
    }

    let content: Content
    /// True for a scalar dataspace, false for an array (even of one element).
    let isScalar: Bool

    /// The string of a scalar or one-element string attribute.
    var string: String? {
        if case .strings(let s) = content, s.count == 1 { return s[0] }
        return nil
    }

    /// The strings of a string attribute, scalar or array.
    var strings: [String]? {
        if case .strings(let s) = content { return s }
        return nil
    }

    /// The integer of a scalar or one-element integer attribute.
    var integer: Int64? {
        if case .integers(let v) = content, v.count == 1 { return v[0] }
        return nil
    }
}

extension HDF5Object {
    /// The names of this object's attributes, in name order.
    func attributeNames() throws -> [String] {
        var info = H5O_info_t()
        try site.check(H5Oget_info2(handle.id, &info, UInt32(H5O_INFO_NUM_ATTRS)), "cannot read the attribute count")
        return try (0..<info.num_attrs).map { i in
            let length = H5Aget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, nf_H5P_DEFAULT())
            guard length >= 0, length < 1 << 16 else { throw site.error("cannot read the name of attribute \(i)") }
            var buffer = [CChar](repeating: 0, count: length + 1)
            try site.check(H5Aget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, length + 1, nf_H5P_DEFAULT()),
                           "cannot read the name of attribute \(i)")
            return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// The attribute `name`, or nil when the object has none of that name.
    func attribute(_ name: String) throws -> HDF5AttributeValue? {
        let exists = try site.check(H5Aexists(handle.id, name), "cannot look up attribute '\(name)'")
        guard exists > 0 else { return nil }
        let what = "attribute '\(name)'"
        let attribute = try site.handle(H5Aopen(handle.id, name, nf_H5P_DEFAULT()), .attribute, "cannot open \(what)")
        let space = try site.handle(H5Aget_space(attribute.id), .dataspace, "cannot read the dataspace of \(what)")
        let spaceClass = H5Sget_simple_extent_type(space.id)
        if spaceClass == H5S_NULL { return HDF5AttributeValue(content: .empty, isScalar: false) }
        let points = try site.check(H5Sget_simple_extent_npoints(space.id), "cannot read the size of \(what)")
        let count = Int(points)
        let type = try site.handle(H5Aget_type(attribute.id), .datatype, "cannot read the datatype of \(what)")
        let typeSize = H5Tget_size(type.id)
        guard typeSize > 0 else { throw site.error("cannot read the datatype size of \(what)") }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: typeSize)
        guard !overflow, bytes <= HDF5Limits.maxAttributeBytes else {
            throw CheckpointError.hdf5(file: site.file, object: site.object,
                                       reason: "\(what) declares \(count) values of \(typeSize) bytes, more than the \(HDF5Limits.maxAttributeBytes >> 20) MiB nanoforge reads")
        }
        let isScalar = spaceClass == H5S_SCALAR

        func read<T: BitwiseCopyable>(_ memoryType: hid_t, _ zero: T) throws -> [T] {
            var values = [T](repeating: zero, count: count)
            try site.check(H5Aread(attribute.id, memoryType, &values), "cannot read \(what)")
            return values
        }
        switch H5Tget_class(type.id) {
        case H5T_STRING:
            let strings = try H5Tis_variable_str(type.id) > 0
                ? readVariableLengthStrings(attribute, space: space, fileType: type, count: count, what: what)
                : readFixedLengthStrings(attribute, fileType: type, size: typeSize, count: count, what: what)
            return HDF5AttributeValue(content: .strings(strings), isScalar: isScalar)
        case H5T_INTEGER:
            return HDF5AttributeValue(content: .integers(try read(nf_H5T_NATIVE_INT64(), Int64(0))), isScalar: isScalar)
        case H5T_FLOAT:
            return HDF5AttributeValue(content: .floats(try read(nf_H5T_NATIVE_DOUBLE(), Double(0))), isScalar: isScalar)
        case let other:
            return HDF5AttributeValue(content: .unsupported(HDF5Datatype.className(other)), isScalar: isScalar)
        }
    }

    private func readVariableLengthStrings(_ attribute: HDF5Handle, space: HDF5Handle, fileType: HDF5Handle,
                                           count: Int, what: String) throws -> [String] {
        let memoryType = try site.handle(H5Tcopy(nf_H5T_C_S1()), .datatype, "cannot create a string type")
        try site.check(H5Tset_size(memoryType.id, nf_H5T_VARIABLE()), "cannot size a string type")
        try site.check(H5Tset_cset(memoryType.id, H5Tget_cset(fileType.id)), "cannot set a string type's character set")
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        try site.check(H5Aread(attribute.id, memoryType.id, &pointers), "cannot read \(what)")
        // H5Dvlen_reclaim, not H5Treclaim: Debian's 1.10.8 header declares the latter, but the
        // library does not export it.
        defer { _ = H5Dvlen_reclaim(memoryType.id, space.id, nf_H5P_DEFAULT(), &pointers) }
        return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }

    /// Fixed-length strings: cut at the first NUL (null-terminated or null-padded) or stripped of
    /// trailing spaces (space-padded).
    private func readFixedLengthStrings(_ attribute: HDF5Handle, fileType: HDF5Handle, size: Int,
                                        count: Int, what: String) throws -> [String] {
        var bytes = [UInt8](repeating: 0, count: count * size)
        try site.check(H5Aread(attribute.id, fileType.id, &bytes), "cannot read \(what)")
        let spacePadded = H5Tget_strpad(fileType.id) == H5T_STR_SPACEPAD
        return (0..<count).map { i in
            var field = bytes[(i * size)..<((i + 1) * size)]
            if let nul = field.firstIndex(of: 0) { field = field[..<nul] }
            if spacePadded { while field.last == 0x20 { field = field.dropLast() } }
            return String(decoding: field, as: UTF8.self)
        }
    }
}
