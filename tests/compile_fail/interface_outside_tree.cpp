// expect: tractor: start_actor<Api>: a function of the interface is not in the tree's tractor::exposed<...> list
// names: math::neg
#include "api.hpp"

using neg_api = tractor::interface<&math::neg>;

tractor::task<void> body(tractor::actor_nursery<tree>& an) {
  BOOST_OUTCOME_CO_TRY(auto bob, co_await an.start_actor<neg_api>("bob"));
  co_return tractor::success();
}
