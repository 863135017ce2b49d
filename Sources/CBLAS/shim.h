// OpenBLAS's CBLAS interface (Debian libopenblas-dev puts cblas.h on the default include path).
#include <cblas.h>
#include <stddef.h>

// LAPACK, which Debian's libopenblas also exports (no lapack.h is installed, so declared here).
// Column-major, Fortran calling convention: every argument by pointer, plus the hidden length
// of the character argument, which C implementations ignore.
// dpotrf_: Cholesky factor of a symmetric positive-definite matrix, in the `uplo` triangle.
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
// dpotri_: the inverse from a dpotrf_ factor, written into the same triangle.
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
