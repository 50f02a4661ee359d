// spawn::prestarted<B> under each backend: children boot from spares and answer as
// themselves, a spare that died is replaced, and no spare outlives its tree.
#include <tractor/core/detail/descriptor_passing.hpp>
#include <tractor/spawn/detail/handover.hpp>
#include <tractor/spawn/prestarted.hpp>
#include <tractor/testing.hpp>

#include "tests/support/damage.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace spare_probe {
/// The actor's name as its runtime knows it, and its thread's name.
tractor::awaitable<std::string> who() {
  std::ifstream comm("/proc/thread-self/comm");
  std::string thread_name;
  std::getline(comm, thread_name);
  co_return tractor::runtime::current_actor()->aid().name + " " + thread_name;
}
/// Starts an actor of its own (from its own spares, under backend B and transport T), asks it
/// `who`, and says what it answered and how many spares its loop then kept.
template <class B, class T>
tractor::task<std::string> lead();
}  // namespace spare_probe

namespace {

using namespace tractor;
using api = interface<&spare_probe::who>;
template <class B, class T = transport::uds>
using spare_tree = tree<spawn::prestarted<B>, T, codec::cereal_binary,
                        exposed<&spare_probe::who, &spare_probe::lead<B, T>>>;
using trees = tractor::testing::tree_list<spare_tree<spawn::exec>, spare_tree<spawn::forkserver>,
                                          spare_tree<spawn::thread>, spare_tree<spawn::exec, transport::tcp>,
                                          spare_tree<spawn::thread, transport::tcp>>;

/// The spares of backend `P` ready on this actor's loop, once there are `n` (a spawn returns
/// before the next spare is started, on the pool's thread), or as many as there are after
/// 10 s (a watchdog: no event says a spare is ready).
template <class P>
awaitable<std::size_t> spares_ready(std::size_t n) {
  const auto ex = runtime::current_actor()->executor();
  boost::asio::steady_timer tick(ex);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    const std::size_t ready = P::ready(ex);
    if (ready == n || std::chrono::steady_clock::now() >= give_up) co_return ready;
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(boost::asio::use_awaitable);
  }
}

}  // namespace

template <class B, class T>
tractor::task<std::string> spare_probe::lead() {
  using own = spare_tree<B, T>;
  std::string answer;
  std::size_t ready = 0;
  auto r = co_await open_actor_nursery<own>([&](actor_nursery<own>& an) -> task<void> {
    BOOST_OUTCOME_CO_TRY(auto worker, co_await an.template start_actor<api>("worker"));
    BOOST_OUTCOME_CO_TRY(answer, co_await worker.template run<&spare_probe::who>());
    ready = co_await spares_ready<spawn::prestarted<B>>(1);
    an.cancel();
    co_return success();
  });
  if (!r) co_return r.error();
  co_return answer + " / " + std::to_string(ready);
}

namespace {

/// The tree's `lead`.
template <class Tree>
struct lead_of;
template <class B, class T>
struct lead_of<spare_tree<B, T>> {
  static constexpr auto fn = &spare_probe::lead<B, T>;
  using api = interface<&spare_probe::lead<B, T>>;
};

/// Processes whose title says they are spares, children of this process or of its forkserver.
std::set<pid_t> spare_processes() {
  std::set<pid_t> out;
  const pid_t parents[] = {::getpid(), spawn::forkserver::server_pid()};
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string title;
    std::getline(cmdline, title, '\0');
    if (title != spawn::spare_title) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 4 >= line.size()) continue;
    char state = line[close + 2];
    const pid_t ppid = std::atoi(line.c_str() + close + 4);
    if (state != 'Z' && (ppid == parents[0] || (parents[1] != 0 && ppid == parents[1]))) out.insert(std::stoi(pid));
  }
  return out;
}

/// The spare processes once there are `n` of them (a forkserver spare takes its title a
/// moment after its start returned, and /proc has no event to wait on: polled, for 10 s at
/// most).
std::set<pid_t> spare_processes(std::size_t n) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto spares = spare_processes();
  while (spares.size() != n && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    spares = spare_processes();
  }
  return spares;
}

template <class Tree>
int run_root(std::function<task<void>(actor_nursery<Tree>&)> body) {
  char arg0[] = "prestarted_test";
  char* argv[] = {arg0, nullptr};
  return run_main<Tree>(1, argv, std::move(body));
}

template <class Tree>
class prestarted_test : public tractor::testing::tree_test<Tree> {
 protected:
  static constexpr bool threads = std::is_same_v<typename Tree::spawn_type, spawn::prestarted<spawn::thread>>;
};
TYPED_TEST_SUITE(prestarted_test, trees::types, tractor::testing::tree_names);

TYPED_TEST(prestarted_test, children_boot_from_spares_and_answer_as_themselves) {
  std::vector<std::string> answers;
  std::size_t ready_after = 0;
  std::size_t spare_processes_seen = 0;
  const int code = run_root<TypeParam>([&](actor_nursery<TypeParam>& an) -> task<void> {
    for (const char* name : {"first", "second", "third"}) {
      BOOST_OUTCOME_CO_TRY(auto child, co_await an.template start_actor<api>(name));
      BOOST_OUTCOME_CO_TRY(auto answer, co_await child.template run<&spare_probe::who>());
      answers.push_back(answer);
    }
    ready_after = co_await spares_ready<typename TypeParam::spawn_type>(1);
    spare_processes_seen = spare_processes(TestFixture::threads ? 0 : 1).size();
    an.cancel();
    co_return success();
  });
  EXPECT_EQ(code, 0);
  ASSERT_EQ(answers.size(), 3u);
  // A process's main thread, or a thread actor's thread, is named for its actor.
  const std::string names[] = {"first", "second", "third"};
  const std::string prefix = this->threads ? std::string(spawn::thread_name_prefix) : "";
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(answers[i], names[i] + " " + prefix + names[i]);
  EXPECT_EQ(ready_after, 1u) << "one spare waits for the next spawn";
  EXPECT_EQ(spare_processes_seen, this->threads ? 0u : 1u);
  EXPECT_TRUE(spare_processes().empty()) << "the spare went with its tree";
}

TYPED_TEST(prestarted_test, a_child_keeps_spares_of_its_own_which_go_with_it) {
  std::string answer;
  const int code = run_root<TypeParam>([&](actor_nursery<TypeParam>& an) -> task<void> {
    BOOST_OUTCOME_CO_TRY(auto lead, co_await an.template start_actor<typename lead_of<TypeParam>::api>("lead"));
    BOOST_OUTCOME_CO_TRY(answer, co_await lead.template run<lead_of<TypeParam>::fn>());
    an.cancel();
    co_return success();
  });
  EXPECT_EQ(code, 0);
  const std::string worker_thread = (this->threads ? std::string(spawn::thread_name_prefix) : "") + "worker";
  EXPECT_EQ(answer, "worker " + worker_thread + " / 1") << "the lead's worker came from the lead's own spare";
  EXPECT_TRUE(spare_processes().empty()) << "the lead's spare went with the lead";
}

TYPED_TEST(prestarted_test, a_spare_that_died_is_replaced) {
  if (this->threads) GTEST_SKIP() << "a thread spare cannot die alone";
  std::string answer;
  std::size_t killed = 0;
  const int code = run_root<TypeParam>([&](actor_nursery<TypeParam>& an) -> task<void> {
    BOOST_OUTCOME_CO_TRY(auto first, co_await an.template start_actor<api>("first"));
    BOOST_OUTCOME_CO_TRY(auto ignored, co_await first.template run<&spare_probe::who>());
    (void)ignored;
    for (pid_t spare : spare_processes(1)) {
      // Gone before the next spawn (a pidfd reads as ready once its process has exited): a
      // spare that dies during its handover is a child that died during its boot.
      const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, spare, 0));
      killed += ::kill(spare, SIGKILL) == 0;
      pollfd exited{pidfd, POLLIN, 0};
      EXPECT_EQ(::poll(&exited, 1, 10'000), 1) << "the killed spare did not exit";
      ::close(pidfd);
    }
    BOOST_OUTCOME_CO_TRY(auto second, co_await an.template start_actor<api>("second"));
    BOOST_OUTCOME_CO_TRY(answer, co_await second.template run<&spare_probe::who>());
    an.cancel();
    co_return success();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(killed, 1u);
  EXPECT_EQ(answer, "second second");
}

TEST(prestarted, is_named_for_its_backend_and_declares_what_it_does) {
  static_assert(spawn::backend<spawn::prestarted<spawn::exec>>);
  static_assert(spawn::adopts_channel<spawn::prestarted<spawn::exec>>);
  static_assert(spawn::start_blocks<spawn::prestarted<spawn::forkserver>>);
  static_assert(!spawn::start_blocks<spawn::prestarted<spawn::thread>>);
  EXPECT_EQ(spawn::prestarted<spawn::forkserver>::name, "prestarted_forkserver");
}

TEST(prestarted, a_handover_that_is_not_a_boot_is_refused) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  ASSERT_EQ(::send(pair[0], "garbage", 7, 0), 7);
  spawn::child_boot boot;
  boot.handover_fd = pair[1];
  auto r = spawn::receive_handover(boot);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a boot"), std::string::npos) << r.error().message();
  EXPECT_EQ(boot.handover_fd, -1);
  ::close(pair[0]);
  // And a dismissed spare (its owner closed the socket) is told so.
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  ::close(pair[0]);
  boot.handover_fd = pair[1];
  auto dismissed = spawn::receive_handover(boot);
  ASSERT_FALSE(dismissed);
  EXPECT_EQ(dismissed.error(), errc::cancelled);
}

/// Gives this thread its name back at the end of the scope: a boot received here names the
/// thread for its child (as a thread actor's), which the program's leak check would take for
/// a thread actor left running.
struct keeps_thread_name {
  char name[16] = {};
  keeps_thread_name() { ::prctl(PR_GET_NAME, name); }
  ~keeps_thread_name() { ::prctl(PR_SET_NAME, name); }
};

// The handover's own packet, with a channel, gives the child the boot it was made from.
TEST(prestarted, a_handover_carries_the_boot_and_the_channel) {
  spawn::spawn_request req;
  req.boot = spawn::child_boot{"worker", "0123-uuid", "/tmp/parent.sock", 4242};
  req.boot.parent_registers = true;
  req.boot.taskdump = true;
  req.boot.loglevel = log::level::cancel;
  req.boot.cookie = std::string("c\0ok", 4);
  req.title = "_subactor[worker@0123]";
  int channel[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel), 0);
  req.boot.channel_fd = channel[1];
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  const std::string packet = spawn::detail::handover_packet(req);
  ASSERT_EQ(tractor::detail::send_with_fds(pair[0], packet.data(), packet.size(), std::span<const int>(&channel[1], 1)),
            static_cast<ssize_t>(packet.size()));
  ::close(pair[0]);
  ::close(channel[1]);
  spawn::child_boot boot;
  boot.stop = std::make_shared<spawn::stop_hook>();  // as a thread actor: no retitling of this test
  boot.handover_fd = pair[1];
  std::optional<result<void>> received;
  {
    const keeps_thread_name kept;
    received.emplace(spawn::receive_handover(boot));
  }
  const auto& r = *received;
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(boot.name, "worker");
  EXPECT_EQ(boot.uuid, "0123-uuid");
  EXPECT_EQ(boot.parent_addr, "/tmp/parent.sock");
  EXPECT_EQ(boot.parent_pid, 4242);
  EXPECT_TRUE(boot.parent_registers);
  EXPECT_TRUE(boot.taskdump);
  EXPECT_EQ(boot.loglevel, log::level::cancel);
  EXPECT_EQ(boot.cookie, std::string("c\0ok", 4));
  EXPECT_EQ(boot.handover_fd, -1);
  ASSERT_GE(boot.channel_fd, 0);
  ASSERT_EQ(::write(channel[0], "x", 1), 1);  // the channel that came is the one that was sent
  char got = 0;
  EXPECT_EQ(::read(boot.channel_fd, &got, 1), 1);
  EXPECT_EQ(got, 'x');
  ::close(boot.channel_fd);
  ::close(channel[0]);
}

// Packets cut short, or with a size that runs past the end, are refused, and a channel that
// came with one is closed; with bytes flipped anywhere, a packet is refused or read as a boot
// of exactly its own bytes. Nothing is read outside a packet (this runs under ASan too).
// Bounded: a fixed seed and count.
TEST(prestarted, a_damaged_handover_is_refused) {
  spawn::spawn_request req;
  req.boot = spawn::child_boot{"worker", "0123-uuid", "/tmp/parent.sock", 4242};
  req.boot.channel_fd = 0;  // announced: one comes with each packet below
  req.title = "_subactor[worker@0123]";
  const std::string valid = spawn::detail::handover_packet(req);
  const keeps_thread_name kept;
  std::mt19937 random(29);
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string packet =
        tractor::testing::damaged(valid, i, random, {.sizes_at = offsetof(spawn::detail::handover_head, sizes)});
    if (packet == valid || packet.empty()) continue;  // a flip that undid itself; an empty packet reads as none
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
    int channel[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel), 0);
    ASSERT_EQ(tractor::detail::send_with_fds(pair[0], packet.data(), packet.size(), std::span<const int>(&channel[1], 1)),
              static_cast<ssize_t>(packet.size()));
    ::close(pair[0]);
    ::close(channel[1]);
    spawn::child_boot boot;
    boot.stop = std::make_shared<spawn::stop_hook>();
    boot.handover_fd = pair[1];
    auto r = spawn::receive_handover(boot);
    EXPECT_EQ(boot.handover_fd, -1);
    if (r) {
      EXPECT_EQ(i % 3, 1) << "packet " << i << " (cut short or misdeclared) was taken for a boot";
      const std::size_t fields = boot.name.size() + boot.uuid.size() + boot.parent_addr.size() + boot.cookie.size();
      EXPECT_LE(sizeof(spawn::detail::handover_head) + fields, packet.size());
      EXPECT_GE(boot.channel_fd, 0);
      if (boot.channel_fd >= 0) ::close(boot.channel_fd);
      ::close(channel[0]);
      continue;
    }
    EXPECT_EQ(boot.channel_fd, -1);
    // Every copy of the channel's other end is closed: ours reads end-of-file.
    char byte;
    EXPECT_EQ(::recv(channel[0], &byte, 1, MSG_DONTWAIT), 0) << "packet " << i << ": the channel that came with it was kept";
    ::close(channel[0]);
    ++refused;
  }
  EXPECT_GE(refused, 200) << "every cut and misdeclared packet, and most flipped ones";
}

}  // namespace

int main(int argc, char** argv) { return tractor::testing::run_tests<trees>(argc, argv); }
