// The core layer's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).
#include <tractor/core/impl/blocking_worker.ipp>
#include <tractor/core/impl/cancel_scope.ipp>
#include <tractor/core/impl/error.ipp>
#include <tractor/core/impl/nursery.ipp>
