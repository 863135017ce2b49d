// Empty: the module is the header's inline wrappers (SwiftPM needs one source file per C target).
#include "simd_intrinsics.h"
