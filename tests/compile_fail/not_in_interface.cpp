// expect: tractor: F is not a function of the portal's tractor::interface<...>
// names: math::mul
#include "api.hpp"

tractor::task<int> body(tractor::actor_nursery<tree>& an) {
  BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor<add_only>("bob"));
  co_return co_await bob.run<&math::mul>(2, 3);  // mul is exposed, but not in add_only
}
