// The codec layer's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).
#include <tractor/codec/impl/cereal_binary.ipp>
#include <tractor/codec/impl/cereal_json.ipp>
