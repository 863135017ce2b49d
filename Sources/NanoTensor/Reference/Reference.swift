/// Naive reference implementations of the tensor core's ops: plain loops, in Double where it
/// matters, written for obviousness rather than speed.
///
/// Tests compare every fast kernel (SIMD, BLAS, polynomial approximations) against its
/// reference on random shapes. Each concept adds its functions in its own
/// `Reference+Concept.swift` extension.
public enum Reference {}
