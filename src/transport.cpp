// The transport layer's non-template definitions, compiled once
// (TRACTOR_SEPARATE_COMPILATION).

// A coroutine frame of a function defined in an included file holds its lambdas; g++ warns
// about that for headers, assuming several definitions. These files are its one definition.
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#include <tractor/transport/impl/channel.ipp>
#include <tractor/transport/impl/channel_receive.ipp>
#include <tractor/transport/impl/multiaddr.ipp>
#include <tractor/transport/impl/tcp.ipp>
#include <tractor/transport/impl/transport.ipp>
#include <tractor/transport/impl/uds.ipp>
