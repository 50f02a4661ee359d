// expect: tractor: a parameter type of F cannot be encoded by the tree's codec
// names: io::use
#include "api.hpp"

tractor::task<int> body(tractor::actor_nursery<tree>& an) {
  BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor("bob"));
  co_return co_await bob.run<&io::use>(opaque{});
}
