// The shm layer's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).
#include <tractor/shm/impl/segment.ipp>
#include <tractor/shm/impl/ring.ipp>
