// The log layer's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).
#include <tractor/log/impl/log.ipp>
