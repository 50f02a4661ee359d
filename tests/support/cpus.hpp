// Test helper: the CPUs a test may use, and pinning one of the test's own threads to one of
// them (tests that need two sides on two CPUs; the library never pins a thread it does not
// own).
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include <pthread.h>
#include <sched.h>

namespace tractor::testing {

/// The CPUs the calling thread may run on.
inline std::vector<int> usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

/// Pins the calling thread (one the test made) to `cpu`.
inline void pin_this_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ASSERT_EQ(::pthread_setaffinity_np(::pthread_self(), sizeof set, &set), 0);
}

}  // namespace tractor::testing
