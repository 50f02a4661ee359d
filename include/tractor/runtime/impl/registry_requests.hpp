// Definitions for tractor/runtime/actor.hpp: the registrar's requests (tractor's `Registrar`
// methods, ns "self"). Arguments and answers are lists of strings:
//
//   register_actor   [name, uuid, addr...] -> []
//   unregister_actor [name, uuid]          -> []
//   find_actor       [name]                -> [addr...] of the first actor of that name, or []
//   wait_for_actor   [name]                -> [addr...] once one is registered (waits)
//   get_registry     []                    -> [name, uuid, addr] for every address
//   delete_addr      [addr]                -> [name, uuid] of whom it was, or []
#pragma once

namespace tractor::runtime {

inline awaitable<void> actor::answer_registry(std::shared_ptr<peer> p, msg::Start s) {
  const std::string cid = s.cid;
  // `self.wait_for_actor` is registered as a running task by `start_task` (so that its
  // caller can cancel it); forgotten when it ends, however it ends.
  struct forget {
    std::map<std::string, running_task>& running;
    const std::string& cid;
    bool registered;
    ~forget() {
      if (registered) running.erase(cid);
    }
  } on_exit{running_, cid, s.func == "wait_for_actor"};

  msg::msg ack = msg::StartAck{cid, "asyncfunc"};
  co_await reply(*p, std::move(ack));
  auto refuse = [&](std::string why) -> msg::msg {
    return box_error(error(make_error_code(runtime_errc::invalid_operation), std::move(why)), self_, cid);
  };
  const std::string what = "self." + s.func;
  auto args = p->channel().decode_texts(s.kwargs);
  std::optional<msg::msg> answer;
  if (!registrar_request_names.contains(s.func)) {
    answer = refuse("no runtime request " + what + " in " + describe(uid_of(self_)));
  } else if (!registry) {
    answer = refuse(describe(uid_of(self_)) + " is not a registrar (" + what + ")");
  } else if (!args) {
    answer = refuse(what + ": malformed arguments: " + args.error().message());
  } else {
    auto out = co_await registrar_request(*registry, s.func, args.value(), p.get());
    if (out) {
      answer = msg::Return{cid, p->channel().encode_texts(out.value())};
    } else {
      answer = refuse(out.error().message());
    }
  }
  co_await reply(*p, std::move(*answer));
}

}  // namespace tractor::runtime
