// The TLS transport's non-template definitions, compiled once (TRACTOR_SEPARATE_COMPILATION).
#include <tractor/transport/impl/tls.ipp>
