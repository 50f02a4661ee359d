// The codec layer's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).

// A coroutine frame of a function defined in an included file holds its lambdas; g++ warns
// about that for headers, assuming several definitions. These files are its one definition.
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#include <tractor/codec/impl/cereal_binary.ipp>
#include <tractor/codec/impl/cereal_json.ipp>
