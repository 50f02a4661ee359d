// The shm layer's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).
// A ring's wait holds a nursery of lambdas in its coroutine frame (CONTRIBUTING.md, compiler
// workarounds: g++ takes this defining file for a header).
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#include <tractor/shm/impl/segment.ipp>
#include <tractor/shm/impl/ring.ipp>
