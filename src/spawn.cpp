// The spawn layer's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).

// A coroutine frame of a function defined in an included file holds its lambdas; g++ warns
// about that for headers, assuming several definitions. This file is its one definition.
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#include <tractor/spawn/impl/backend.ipp>
#include <tractor/spawn/impl/exec.ipp>
#include <tractor/spawn/impl/process.ipp>
#include <tractor/spawn/impl/thread.ipp>
#include <tractor/spawn/impl/prestarted.ipp>
