// The testing layer's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).
#include <tractor/testing/impl/fixture.ipp>
