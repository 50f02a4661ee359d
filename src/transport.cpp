// The transport layer's non-template definitions, compiled once
// (TRACTOR_SEPARATE_COMPILATION).
#include <tractor/transport/impl/auth.ipp>
#include <tractor/transport/impl/channel.ipp>
#include <tractor/transport/impl/channel_receive.ipp>
#include <tractor/transport/impl/connection.ipp>
#include <tractor/transport/impl/multiaddr.ipp>
#include <tractor/transport/impl/transport.ipp>
#include <tractor/transport/impl/uds.ipp>
#include <tractor/transport/impl/shm.ipp>
