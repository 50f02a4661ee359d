// The forkserver given packets that are not requests, on a process's link to it: each is
// refused (EINVAL, no child, no descriptor) whatever its bytes, and the forkserver goes on
// serving; a mutated request it can still read is served like any other. An actor's bug
// must not end the forkserver, which every actor of the program was forked from.
#include <tractor/spawn/forkserver.hpp>

#include "tests/support/damage.hpp"
#include "tests/support/reaper.hpp"
#include "tools/forkserver/server.hpp"  // the request's layout, and this process's link

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <set>
#include <span>
#include <string>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace tractor;
namespace server_side = spawn::server_side;
using tractor::testing::live_children;
using forkserver_request_test = tractor::testing::no_child_left_test;

int exits_with_seven(const spawn::child_boot&) { return 7; }

// A well-formed request for a child that exits with 7 (announcing a channel, if `with_channel`).
std::string request_packet(bool with_channel = false) {
  spawn::spawn_request req;
  req.boot.name = "seven";
  req.boot.channel_fd = with_channel ? 0 : -1;  // only announced: no descriptor travels here
  req.run_child = exits_with_seven;
  std::string packet;
  EXPECT_TRUE(server_side::encode(req, packet));
  return packet;
}

// What the forkserver answered a packet.
struct answer {
  bool came = false;
  server_side::reply r{};
  tractor::detail::passed_fds fds;
  ~answer() { fds.close_all(); }
};

// Sends `packet` (with `fds` attached) on this process's link to its forkserver, as a spawn
// does, and waits for the answer: 5 s at most, a watchdog.
void ask(std::string_view packet, answer& a, std::span<const int> fds = {}) {
  server_side::link_state& link = server_side::link();
  std::lock_guard lock(link.m);
  ASSERT_GE(link.fd, 0) << "this process has a forkserver";
  ASSERT_EQ(tractor::detail::send_with_fds(link.fd, packet.data(), packet.size(), fds),
            static_cast<ssize_t>(packet.size()));
  pollfd p{link.fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "no answer within 5 s";
  a.came = tractor::detail::recv_with_fds(link.fd, &a.r, sizeof a.r, a.fds) == static_cast<ssize_t>(sizeof a.r);
}

// The wait status a child's status pipe `fd` reports (10 s at most), or -1.
int status_of(int fd) {
  pollfd p{fd, POLLIN, 0};
  int wstatus = -1;
  if (::poll(&p, 1, 10000) != 1 || ::read(fd, &wstatus, sizeof wstatus) != static_cast<ssize_t>(sizeof wstatus)) return -1;
  return wstatus;
}

// Expects `packet` refused, with nothing attached.
void expect_refused(std::string_view packet, std::string_view what, std::span<const int> fds = {}) {
  answer a;
  ask(packet, a, fds);
  EXPECT_TRUE(a.came) << what << ": the forkserver answers";
  EXPECT_EQ(a.r.pid, -1) << what;
  EXPECT_EQ(a.r.err, EINVAL) << what;
  EXPECT_EQ(a.fds.count, 0u) << what;
}

// A spawn through the public backend, after whatever came before: its child exits with 7.
void expect_serving(pid_t server) {
  EXPECT_EQ(spawn::forkserver::server_pid(), server) << "the same forkserver";
  auto child = spawn::detail::fork_through_server([] {
    spawn::spawn_request req;
    req.boot.name = "seven";
    req.run_child = exits_with_seven;
    return req;
  }());
  ASSERT_TRUE(child) << child.error().message();
  const int wstatus = status_of(child.value().status_fd);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 7) << "wait status " << wstatus;
  ::close(child.value().pidfd);
  ::close(child.value().status_fd);
}

TEST_F(forkserver_request_test, packets_that_are_not_requests_are_refused_and_the_forkserver_serves_on) {
  const spawn::forkserver::session scope;  // stopped however the test ends
  const pid_t server = spawn::forkserver::server_pid();
  ASSERT_GT(server, 0);
  const std::string good = request_packet();
  const std::size_t head = sizeof(server_side::request_head);

  expect_refused("", "an empty packet (not a hang-up)");
  expect_refused("tfk", "three bytes");
  std::string p = good;
  p[0] ^= 0x5a;
  expect_refused(p, "a wrong magic number");
  p = good;
  std::memset(p.data() + offsetof(server_side::request_head, entry), 0, sizeof(std::uint64_t));
  expect_refused(p, "no entry");
  expect_refused(good.substr(0, head + sizeof(spawn::detail::handover_head) - 1), "a boot cut short");
  p = good;
  const std::uint32_t huge = 1u << 30;
  std::memcpy(p.data() + head + offsetof(spawn::detail::handover_head, sizes), &huge, sizeof huge);
  expect_refused(p, "a name longer than the packet");
  expect_refused(request_packet(true), "a channel announced that did not come");
  int extra[2];
  ASSERT_EQ(::pipe(extra), 0);
  expect_refused(good, "a descriptor that was not announced", std::span<const int>(extra, 1));
  ::close(extra[0]);
  ::close(extra[1]);
  p = good;
  p.resize(server_side::max_request + 1, 'x');
  expect_refused(p, "a packet longer than any request");

  expect_serving(server);
  EXPECT_EQ(live_children(), std::set<pid_t>{server}) << "no child came of any of them";
}

// Requests with random bytes flipped (never the entry's: a spare jumps there), cut short or
// given a wrong size: each is refused, or read and served (the child exits with 7, whatever
// its name, title or environment became).
TEST_F(forkserver_request_test, mutated_requests_are_refused_or_served_and_never_stop_the_forkserver) {
  const spawn::forkserver::session scope;
  const pid_t server = spawn::forkserver::server_pid();
  ASSERT_GT(server, 0);
  const std::string good = request_packet();
  const std::size_t entry_at = offsetof(server_side::request_head, entry);
  const std::size_t sizes_at = sizeof(server_side::request_head) + offsetof(spawn::detail::handover_head, sizes);
  std::mt19937 random(25);
  int refused = 0;
  int served = 0;
  for (int i = 0; i < 300 && !HasFailure(); ++i) {
    const std::string p = tractor::testing::damaged(
        good, i, random, {.sizes_at = sizes_at, .max_size = 4095, .spared_at = entry_at, .spared = sizeof(std::uint64_t)});
    answer a;
    ask(p, a);
    ASSERT_TRUE(a.came) << "packet " << i << ": the forkserver answers";
    if (a.r.pid <= 0) {
      EXPECT_EQ(a.r.err, EINVAL) << "packet " << i;
      EXPECT_EQ(a.fds.count, 0u) << "packet " << i;
      ++refused;
      continue;
    }
    ASSERT_EQ(a.fds.count, 2u) << "packet " << i << ": a child comes with its pidfd and status pipe";
    const int wstatus = status_of(a.fds.at(1));
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 7) << "packet " << i << ": wait status " << wstatus;
    ++served;
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(served, 0) << "some mutations leave a request the forkserver can read";
  expect_serving(server);
}

}  // namespace
