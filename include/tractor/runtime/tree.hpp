// tractor/runtime/tree.hpp — composing a tree: its three policies and its exposed functions,
// and everything a program needs to run one (portals, actor nurseries, the root).
//
//     namespace math { tractor::awaitable<int> add(int a, int b) { co_return a + b; } }
//     using tree = tractor::tree<tractor::spawn::exec, tractor::transport::uds,
//                                tractor::codec::cereal_binary, tractor::exposed<&math::add>>;
//     using math_api = tractor::interface<&math::add>;
//
//     int main(int argc, char** argv) {
//       return tractor::run_main<tree>(argc, argv, [](tractor::actor_nursery<tree>& an)
//                                                      -> tractor::task<void> {
//         BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor<math_api>("bob"));
//         BOOST_OUTCOME_CO_TRY(int three, co_await bob.run<&math::add>(1, 2));
//         an.cancel();
//         co_return tractor::success();
//       });
//     }
//
// `run_main` is both ends: in a child started by the `exec` backend (the same binary, re-run)
// it becomes the child's runtime instead of calling the root body.
#pragma once

#include <tractor/runtime/actor.hpp>
#include <tractor/runtime/child.hpp>

namespace tractor {

/// A tree's three policies, its exposed functions and the error types it rebuilds as
/// themselves when they come from another actor (see `tractor::errors`).
template <spawn::backend Spawn, transport::transport Transport, codec::codec Codec, class Exposed,
          class Errors = errors<>>
struct tree {
  using spawn_type = Spawn;
  using transport_type = Transport;
  using codec_type = Codec;
  using exposed_type = Exposed;
  using errors_type = Errors;

  /// The erased table the non-template runtime runs on.
  static const runtime::policies& policies() {
    static constexpr auto functions = Exposed::template table<Codec>();
    static const runtime::policies p{
        Spawn::name,
        &Spawn::start,
        [](const spawn::child_boot& boot) { return runtime::run_child(policies(), boot); },
        spawn::adopts_channel<Spawn>,
        spawn::start_blocks<Spawn>,
        Transport::name,
        &Transport::listen,
        &Transport::connect,
        &Transport::bind_addr,
        [](transport::connection c, transport::channel_options o) {
          return transport::channel::make<Codec>(std::move(c), o);
        },
        functions,
        runtime::request_wire::make<Codec>(),
        Errors::table(),
        &Transport::default_registry,
        &Transport::accepts,
        transport::prover<Transport>(),
        transport::checker<Transport>(),
    };
    return p;
  }
};

}  // namespace tractor

#include <tractor/runtime/portal.hpp>
#include <tractor/runtime/root.hpp>
