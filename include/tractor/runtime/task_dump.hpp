// tractor/runtime/task_dump.hpp — what every task of a running tree is waiting on.
//
// `tractor::dump_task_tree()` describes the actor it is called in: a header (name, uuid,
// pid, spawn backend, address, parent, children with their pids), then its nurseries and
// cancel scopes (cancelled? shielded? deadline left) and in them its tasks, each with what
// it waits on: a sleep (time left), an event, a memory channel (how full), a message from a
// peer, the answer of a call to `ns.fn` in an actor, a child's exit.
//
// With task dumps enabled (`root_options::enable_taskdump`, or TRACTOR_ENABLE_TASKDUMP=1 for
// the root; inherited by every child under every backend), SIGUSR1 to an actor's process
// prints the dump of that actor and, asked over IPC, of all its descendants in tree order,
// to stderr, to $TMPDIR/tractor-taskdump-<pid>.log (its path printed first) and to /dev/tty
// when there is one. A child that does not answer within a second is listed as "no answer"
// with its pid, and a child process is then sent SIGUSR1 itself, so that its own watchdog
// prints its native stack. See runtime/detail/dump_service.hpp for how the signal is
// handled (never walking tasks in the handler) and when SIGUSR1 is left alone.
#pragma once

#include <tractor/config.hpp>

#include <tractor/runtime/supervise.hpp>

#include <chrono>
#include <string>

namespace tractor {

/// The task tree of the actor running on the calling thread, as described above ("no actor
/// runs on this thread" outside one). Call it from a task of the actor (or anywhere on its
/// loop's thread).
std::string dump_task_tree();

namespace runtime {

/// TRACTOR_ENABLE_TASKDUMP is set to "1".
bool taskdump_from_env();

/// `a`'s dump followed by its children's, asked over IPC all at once, each bounded by
/// `per_child`.
///
/// Cancellation: interrupted at once (children's answers still on their way are dropped).
awaitable<std::string> collect_task_dump(actor& a, clock::duration per_child = std::chrono::seconds(1));

/// The task of an actor with task dumps enabled that answers SIGUSR1: the process's top
/// actor enrols with the dump thread and writes `collect_task_dump` when it asks. An actor
/// sharing its process with its parent (a thread actor) is dumped through its parent.
///
/// Cancellation: ends at once (and leaves the dump thread, the last out stopping it).
awaitable<void> task_dump_watch(actor& a);

}  // namespace runtime
}  // namespace tractor

#if TRACTOR_HEADER_ONLY
#include <tractor/runtime/impl/task_dump.ipp>
#endif
