// expect: tractor: F is not in the tree's tractor::exposed<...> list
// names: math::neg
#include "api.hpp"

tractor::task<int> body(tractor::actor_nursery<tree>& an) {
  BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor("bob"));
  co_return co_await bob.run<&math::neg>(1);  // neg is not in the tree's exposed list
}
