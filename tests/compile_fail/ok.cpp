// The control: every call here is right, so it compiles (the harness is sound).
#include "api.hpp"

tractor::task<int> body(tractor::actor_nursery<tree>& an) {
  BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor<add_only>("bob"));
  BOOST_OUTCOME_CO_TRY(int three, co_await bob.run<&math::add>(1, 2));
  co_return three;
}
