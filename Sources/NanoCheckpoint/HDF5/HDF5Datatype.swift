import CHDF5

/// How nanoforge's element types are spelled in HDF5, both ways.
///
/// Writing, every type is little-endian and the memory type equals the file type, so the bytes
/// reach the file untouched. Reading, a file type is classified by class, size, sign and (for
/// floats) bit fields, and the data is read through the little-endian memory type of that `DType`:
/// HDF5 converts big-endian files on the way, and same-layout types are copied bit for bit.
enum HDF5Datatype {
    /// A new datatype (owned by the handle) for `dtype`, little-endian.
    ///
    /// F16 and BF16 are derived from IEEE F32 (HDF5 1.10 has no predefined half types), the way
    /// h5py spells float16; BOOL is h5py's enum of int8 {FALSE = 0, TRUE = 1}.
    static func make(_ dtype: DType, site: HDF5Site) throws -> HDF5Handle {
        let what = "cannot create the \(dtype.rawValue) datatype"
        switch dtype {
        case .f64: return try site.handle(H5Tcopy(nf_H5T_IEEE_F64LE()), .datatype, what)
        case .f32: return try site.handle(H5Tcopy(nf_H5T_IEEE_F32LE()), .datatype, what)
        case .f16: return try site.handle(nf_H5T_IEEE_F16LE(), .datatype, what)
        case .bf16: return try site.handle(nf_H5T_BFLOAT16LE(), .datatype, what)
        case .i64: return try site.handle(H5Tcopy(nf_H5T_STD_I64LE()), .datatype, what)
        case .i32: return try site.handle(H5Tcopy(nf_H5T_STD_I32LE()), .datatype, what)
        case .i16: return try site.handle(H5Tcopy(nf_H5T_STD_I16LE()), .datatype, what)
        case .i8: return try site.handle(H5Tcopy(nf_H5T_STD_I8LE()), .datatype, what)
        case .u8: return try site.handle(H5Tcopy(nf_H5T_STD_U8LE()), .datatype, what)
        case .bool:
            let type = try site.handle(H5Tenum_create(nf_H5T_NATIVE_INT8()), .datatype, what)
            for (name, value) in [("FALSE", Int8(0)), ("TRUE", Int8(1))] {
                var v = value
                try site.check(H5Tenum_insert(type.id, name, &v), what)
            }
            return type
        }
    }

    /// What a file datatype holds: one of our element types, or a description of why not.
    enum Classification: Equatable {
        case tensor(DType)
        case unsupported(String)
    }

    /// Classifies the datatype `type` of a dataset in the file.
    static func classify(_ type: hid_t, site: HDF5Site) throws -> Classification {
        let typeClass = H5Tget_class(type)
        let size = H5Tget_size(type)
        guard size > 0 else { throw site.error("cannot read the datatype's size") }
        switch typeClass {
        case H5T_FLOAT:
            var (sign, exponentPosition, exponentBits, mantissaPosition, mantissaBits) = (0, 0, 0, 0, 0)
            try site.check(H5Tget_fields(type, &sign, &exponentPosition, &exponentBits, &mantissaPosition, &mantissaBits),
                           "cannot read the float datatype's bit fields")
            switch (size, exponentBits, mantissaBits) {
            case (2, 5, 10): return .tensor(.f16)
            case (2, 8, 7): return .tensor(.bf16)
            case (4, 8, 23): return .tensor(.f32)
            case (8, 11, 52): return .tensor(.f64)
            default:
                return .unsupported("float of \(size) bytes with \(exponentBits) exponent and \(mantissaBits) mantissa bits")
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (1, true): return .tensor(.i8)
            case (1, false): return .tensor(.u8)
            case (2, true): return .tensor(.i16)
            case (4, true): return .tensor(.i32)
            case (8, true): return .tensor(.i64)
            default: return .unsupported("\(signed ? "signed" : "unsigned") integer of \(size) bytes")
            }
        case H5T_ENUM:
            return try isBooleanEnum(type, site: site) ? .tensor(.bool) : .unsupported("enum of \(size) bytes")
        default:
            return .unsupported(className(typeClass))
        }
    }

    /// h5py's boolean: an enum of a one-byte integer with exactly the members FALSE = 0, TRUE = 1.
    private static func isBooleanEnum(_ type: hid_t, site: HDF5Site) throws -> Bool {
        guard H5Tget_size(type) == 1, H5Tget_nmembers(type) == 2 else { return false }
        var members: [String: Int8] = [:]
        for index in 0..<UInt32(2) {
            guard let cName = H5Tget_member_name(type, index) else { throw site.error("cannot read an enum member's name") }
            let name = String(cString: cName)
            H5free_memory(cName)
            var value: Int8 = 0
            try site.check(H5Tget_member_value(type, index, &value), "cannot read enum member '\(name)'")
            members[name] = value
        }
        return members == ["FALSE": 0, "TRUE": 1]
    }

    /// A readable name for an HDF5 datatype class.
    static func className(_ typeClass: H5T_class_t) -> String {
        switch typeClass {
        case H5T_INTEGER: return "integer"
        case H5T_FLOAT: return "float"
        case H5T_TIME: return "time"
        case H5T_STRING: return "string"
        case H5T_BITFIELD: return "bitfield"
        case H5T_OPAQUE: return "opaque"
        case H5T_COMPOUND: return "compound"
        case H5T_REFERENCE: return "reference"
        case H5T_ENUM: return "enum"
        case H5T_VLEN: return "variable-length sequence"
        case H5T_ARRAY: return "array"
        default: return "unknown datatype class \(typeClass.rawValue)"
        }
    }
}
