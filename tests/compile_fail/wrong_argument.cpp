// expect: tractor: the arguments do not convert to F's parameters
// names: math::add
#include "api.hpp"

tractor::task<int> body(tractor::actor_nursery<tree>& an) {
  BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor<add_only>("bob"));
  co_return co_await bob.run<&math::add>("forty", 2);
}
