// tractor/runtime/policies.hpp — the policies a tree was composed from, erased for the
// non-template runtime: a small table of function pointers built once per tree type.
#pragma once

#include <tractor/core/error.hpp>
#include <tractor/runtime/exposed.hpp>
#include <tractor/runtime/remote_error.hpp>
#include <tractor/runtime/requests.hpp>
#include <tractor/spawn/backend.hpp>
#include <tractor/transport/channel.hpp>
#include <tractor/transport/transport.hpp>

#include <memory>
#include <span>
#include <string_view>

namespace tractor::runtime {

/// The composed policies, erased: how to spawn, listen, connect and frame, which functions
/// exist.
struct policies {
  std::string_view spawn_name;
  result<std::unique_ptr<spawn::child_handle>> (*spawn)(const boost::asio::any_io_executor&,
                                                        const spawn::spawn_request&);
  /// The child runtime for this tree, for backends that run it in a fork or a thread.
  spawn::child_entry child_entry;
  /// The backend takes a socket already connected to the parent (`spawn::adopts_channel`).
  bool spawn_adopts_channel;
  /// `spawn` may block: the runtime calls it on the actor's spawner thread (`spawn::start_blocks`).
  bool spawn_start_blocks;
  std::string_view transport_name;
  result<transport::listener> (*listen)(const boost::asio::any_io_executor&,
                                        const transport::multiaddr&);
  awaitable<result<transport::stream_socket>> (*connect)(const boost::asio::any_io_executor&,
                                                         const transport::multiaddr&);
  transport::multiaddr (*bind_addr)(std::string_view);
  std::unique_ptr<transport::channel> (*make_channel)(transport::connection,
                                                      transport::channel_options);
  std::span<const exposed_fn> functions;
  /// The runtime's own requests (ns "self"), with the tree's codec.
  const request_wire& requests;
  std::span<const error_type> error_types;
  /// Where a tree's registrar is by default (tractor's 127.0.0.1:1616, registry@1616).
  transport::multiaddr (*default_registry)();
  bool (*accepts)(const transport::multiaddr&);
  /// The transport's authentication of a connected and an accepted socket (null: none).
  transport::auth_step prove;
  transport::auth_step check;
};

}  // namespace tractor::runtime
