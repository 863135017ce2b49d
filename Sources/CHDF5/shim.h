// libhdf5 (Debian libhdf5-dev, serial build). Swift cannot import HDF5's type and flag macros
// that expand to function calls or globals, so each one used is wrapped in a static inline function.
#include <hdf5/serial/hdf5.h>

static inline hid_t nf_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t nf_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t nf_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline size_t nf_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline unsigned nf_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned nf_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned nf_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline hid_t nf_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t nf_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t nf_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
static inline hid_t nf_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t nf_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t nf_H5P_ATTRIBUTE_CREATE(void) { return H5P_ATTRIBUTE_CREATE; }

static inline hid_t nf_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t nf_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t nf_H5T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t nf_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t nf_H5T_NATIVE_INT16(void) { return H5T_NATIVE_INT16; }
static inline hid_t nf_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t nf_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t nf_H5T_NATIVE_UINT16(void) { return H5T_NATIVE_UINT16; }
/// A new (caller-closed) IEEE binary16 type. HDF5 1.10 has no predefined half type: it is derived
/// from IEEE F32 (sign bit 15, 5 exponent bits at 10, 10 mantissa bits at 0, bias 15), as h5py does.
static inline hid_t nf_H5T_IEEE_F16LE(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}
/// A new (caller-closed) bfloat16 type: the top half of IEEE F32 (sign bit 15, 8 exponent bits at
/// 7, 7 mantissa bits at 0, bias 127). h5py reads it as float32, converted exactly.
static inline hid_t nf_H5T_BFLOAT16LE(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    if (H5Tset_fields(t, 15, 7, 8, 0, 7) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 127) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}
static inline hid_t nf_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t nf_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t nf_H5T_STD_I8LE(void) { return H5T_STD_I8LE; }
static inline hid_t nf_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t nf_H5T_STD_I16LE(void) { return H5T_STD_I16LE; }
static inline hid_t nf_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t nf_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t nf_H5T_C_S1(void) { return H5T_C_S1; }
