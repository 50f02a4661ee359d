// tractor/shm.hpp — shared memory between actors on one host: typed arrays and lists in
// named POSIX segments, handed to another actor as a serialisable token.
#pragma once

#include <tractor/shm/array.hpp>
#include <tractor/shm/error.hpp>
#include <tractor/shm/list.hpp>
#include <tractor/shm/ring.hpp>
#include <tractor/shm/segment.hpp>
