// The core layer's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).

// A coroutine frame of a function defined in an included file holds its lambdas; g++ warns
// about that for headers, assuming several definitions. These files are its one definition.
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#include <tractor/core/impl/cancel_scope.ipp>
#include <tractor/core/impl/error.ipp>
