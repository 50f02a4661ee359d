// The tcp transport's non-template definitions and its cookie exchange (which needs
// libcrypto), compiled once (TRACTOR_SEPARATE_COMPILATION).
#include <tractor/transport/impl/cookie_exchange.ipp>
#include <tractor/transport/impl/tcp.ipp>
