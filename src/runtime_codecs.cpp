// The runtime's own requests for each built-in codec (request_wire::make), compiled once
// (TRACTOR_SEPARATE_COMPILATION) instead of in every translation unit that names a tree.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/codec/cereal_json.hpp>
#include <tractor/runtime/actor.hpp>

namespace tractor::runtime::detail {

template <class C>
const request_wire& prebuilt_request_wire() {
  return request_wire::build<C>();
}

template const request_wire& prebuilt_request_wire<codec::cereal_binary>();
template const request_wire& prebuilt_request_wire<codec::cereal_json>();

}  // namespace tractor::runtime::detail
