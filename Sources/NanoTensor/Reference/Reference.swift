/// Plain-loop reference implementations of the tensor kernels: naive loops, in Double where it
/// matters, used by tests to check the fast paths (BLAS, SIMD) on random shapes.
public enum Reference {}
