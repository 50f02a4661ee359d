// tractor/testing.hpp — GoogleTest support for tests of actor trees: the policy matrix, the
// per-test fixture with its leak checks and hang guard, and the reaper they share with
// tractor-reap. Link `//:testing`. It brings the whole library (tractor.hpp) with it.
#pragma once

#include <tractor/tractor.hpp>

#include <tractor/testing/fixture.hpp>
#include <tractor/testing/matrix.hpp>
#include <tractor/testing/reap.hpp>
