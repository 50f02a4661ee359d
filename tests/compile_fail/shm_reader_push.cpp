// expect: tractor: shm_array<const T> is a reader's: only the owner pushes
// names: push
#include <tractor/shm.hpp>

void append_through_a_reader(const tractor::shm_token& token) {
  auto reader = tractor::attach_shm_array<double>(token);
  (void)reader.value().push(1.0);  // a reader's array is read-only
}
