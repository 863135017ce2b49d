import CHDF5

/// Writing attributes, in the spellings h5py uses, so Python reads them back as `str`, `bytes`,
/// arrays of `bytes`, `int` and `float`. An existing attribute of the same name is replaced.
extension HDF5Object {
    /// A string. Variable-length UTF-8 (h5py's `str`; no size limit, as the value lives in the
    /// global heap) by default; `fixedLength` gives a null-padded fixed-length string as h5py
    /// writes `bytes` (Keras's `backend`, `keras_version`).
    func setAttribute(_ name: String, string: String, fixedLength: Bool = false) throws {
        if fixedLength {
            try writeFixedLengthStrings(name, [string], scalar: true)
            return
        }
        let type = try site.handle(H5Tcopy(nf_H5T_C_S1()), .datatype, "cannot create a string type")
        try site.check(H5Tset_size(type.id, nf_H5T_VARIABLE()), "cannot size a string type")
        try site.check(H5Tset_cset(type.id, H5T_CSET_UTF8), "cannot set a string type's character set")
        let attribute = try createAttribute(name, type: type, dims: nil)
        let status = string.withCString { chars -> herr_t in
            var pointer: UnsafePointer<CChar>? = chars
            return H5Awrite(attribute.id, type.id, &pointer)
        }
        try site.check(status, "cannot write attribute '\(name)'")
    }

    /// An array of fixed-length, null-padded strings, each as long as the longest: what h5py
    /// writes for a numpy array of `bytes`, such as Keras's `layer_names` and `weight_names`.
    func setAttribute(_ name: String, strings: [String]) throws {
        try writeFixedLengthStrings(name, strings, scalar: false)
    }

    /// A scalar 64-bit little-endian integer.
    func setAttribute(_ name: String, integer: Int64) throws {
        try writeScalar(name, fileType: nf_H5T_STD_I64LE(), memoryType: nf_H5T_NATIVE_INT64(), value: integer)
    }

    /// A scalar 64-bit little-endian IEEE float.
    func setAttribute(_ name: String, double: Double) throws {
        try writeScalar(name, fileType: nf_H5T_IEEE_F64LE(), memoryType: nf_H5T_NATIVE_DOUBLE(), value: double)
    }

    private func writeScalar<T: BitwiseCopyable>(_ name: String, fileType: hid_t, memoryType: hid_t, value: T) throws {
        let type = try site.handle(H5Tcopy(fileType), .datatype, "cannot create a number type")
        let attribute = try createAttribute(name, type: type, dims: nil)
        var v = value
        try site.check(H5Awrite(attribute.id, memoryType, &v), "cannot write attribute '\(name)'")
    }

    private func writeFixedLengthStrings(_ name: String, _ strings: [String], scalar: Bool) throws {
        let encoded = strings.map { Array($0.utf8) }
        let size = max(1, encoded.map(\.count).max() ?? 1)
        let type = try site.handle(H5Tcopy(nf_H5T_C_S1()), .datatype, "cannot create a string type")
        try site.check(H5Tset_size(type.id, size), "cannot size a string type")
        try site.check(H5Tset_strpad(type.id, H5T_STR_NULLPAD), "cannot set a string type's padding")
        let ascii = encoded.allSatisfy { $0.allSatisfy { $0 < 0x80 } }
        try site.check(H5Tset_cset(type.id, ascii ? H5T_CSET_ASCII : H5T_CSET_UTF8), "cannot set a string type's character set")
        let attribute = try createAttribute(name, type: type, dims: scalar ? nil : [strings.count])
        var buffer = [UInt8](repeating: 0, count: size * encoded.count)
        for (i, bytes) in encoded.enumerated() { buffer.replaceSubrange((i * size)..<(i * size + bytes.count), with: bytes) }
        try site.check(H5Awrite(attribute.id, type.id, buffer), "cannot write attribute '\(name)'")
    }

    /// A new attribute of `type`, scalar when `dims` is nil, replacing one of the same name.
    private func createAttribute(_ name: String, type: HDF5Handle, dims: [Int]?) throws -> HDF5Handle {
        guard !name.isEmpty, !name.utf8.contains(0) else {
            throw CheckpointError.writeFailed(file: site.file, reason: "attribute name '\(name)' is empty or holds a NUL byte")
        }
        if try site.check(H5Aexists(handle.id, name), "cannot look up attribute '\(name)'") > 0 {
            try site.check(H5Adelete(handle.id, name), "cannot replace attribute '\(name)'")
        }
        let space: HDF5Handle
        if let dims {
            space = try site.handle(H5Screate_simple(Int32(dims.count), dims.map { hsize_t($0) }, nil), .dataspace,
                                    "cannot create a dataspace")
        } else {
            space = try site.handle(H5Screate(H5S_SCALAR), .dataspace, "cannot create a dataspace")
        }
        let properties = try site.utf8NameProperties(forAttribute: true)
        let id = H5Acreate2(handle.id, name, type.id, space.id, properties.id, nf_H5P_DEFAULT())
        return try site.handle(id, .attribute, "cannot create attribute '\(name)'")
    }
}
