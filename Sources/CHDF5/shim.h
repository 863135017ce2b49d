// libhdf5 (Debian libhdf5-dev, serial build). Swift cannot import HDF5's type and flag macros
// that expand to function calls or globals, so each one used is wrapped in a static inline function.
#include <hdf5/serial/hdf5.h>

static inline hid_t nf_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t nf_H5S_ALL(void) { return H5S_ALL; }
static inline unsigned nf_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned nf_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline hid_t nf_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t nf_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t nf_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }

static inline hid_t nf_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t nf_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t nf_H5T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t nf_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t nf_H5T_NATIVE_INT16(void) { return H5T_NATIVE_INT16; }
static inline hid_t nf_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t nf_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t nf_H5T_NATIVE_UINT16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t nf_H5T_IEEE_F16LE(void) {
    // HDF5 1.10 has no predefined half type: derive one from IEEE F32 (1 sign, 5 exponent, 10 mantissa bits).
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
}
static inline hid_t nf_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t nf_H5T_STD_I8LE(void) { return H5T_STD_I8LE; }
static inline hid_t nf_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t nf_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t nf_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t nf_H5T_C_S1(void) { return H5T_C_S1; }
