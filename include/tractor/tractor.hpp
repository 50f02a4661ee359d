// tractor/tractor.hpp — the umbrella header: everything tractor offers today.
#pragma once

#include <tractor/core.hpp>
