// The reaper's definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).
#include <tractor/testing/impl/reap.ipp>
