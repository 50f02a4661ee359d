// The shared-memory transport against peers played by hand: offers forged in every way the
// accepting side checks are refused with a reason, and it goes on accepting; an acceptor that
// answers wrongly or hangs up is refused by the connecting side; a peer scribbling over the
// control blocks (fuzzed) makes a side fail with a protocol error, never read or write outside
// its ring.
#include <tractor/core/cancel_scope.hpp>
#include <tractor/core/nursery.hpp>
#include <tractor/transport/detail/shm_layout.hpp>
#include <tractor/transport/shm.hpp>

#include "tests/wire/shm_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tractor::testing {
namespace {

namespace tp = tractor::transport;
namespace sw = tractor::transport::shm_wire;
using namespace std::chrono_literals;

using shm_wire_tests::open_fds;
using shm_wire_tests::with_sockets;

// How a forged offer differs from a genuine one.
struct forgery {
  std::uint64_t magic = sw::hello_magic;
  std::uint64_t ring = 4096;
  std::ptrdiff_t extra_bytes = 0;  // the memory's size beside what the ring needs
  bool sealed = true;
  bool pipe_doorbells = false;
  int fds = 3;  // how many descriptors go with the hello
};

// What a hand-made connecting side keeps: the memory it mapped and its doorbell ends.
struct forged_peer {
  void* base = nullptr;
  std::size_t size = 0;
  int bell[2] = {-1, -1};  // ours of ring 0 (we send), of ring 1 (we receive)
  ~forged_peer() {
    if (base) ::munmap(base, size);
    for (int b : bell) {
      if (b >= 0) ::close(b);
    }
  }
  sw::ring_control& control(int i) const { return static_cast<sw::ring_control*>(base)[i]; }
  std::byte* bytes(int i) const { return static_cast<std::byte*>(base) + sw::data_offset + i * (size - sw::data_offset) / 2; }
};

// Sends the hello `f` describes on `sock` (blocking: the socket is fresh and the hello small).
void send_forged(int sock, const forgery& f, forged_peer& keep) {
  const std::size_t size = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(sw::memory_bytes(f.ring)) + f.extra_bytes);
  const int mem = ::memfd_create("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_GE(mem, 0);
  ASSERT_EQ(::ftruncate(mem, static_cast<off_t>(size)), 0);
  if (f.sealed) {
    ASSERT_EQ(::fcntl(mem, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  }
  keep.base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, mem, 0);
  ASSERT_NE(keep.base, MAP_FAILED);
  keep.size = size;
  std::vector<int> theirs{mem};
  for (int i = 0; i < 2; ++i) {
    int pair[2];
    if (f.pipe_doorbells) {
      ASSERT_EQ(::pipe2(pair, O_CLOEXEC), 0);
    } else {
      ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    }
    keep.bell[i] = pair[0];
    theirs.push_back(pair[1]);
  }
  while (static_cast<int>(theirs.size()) < f.fds) theirs.push_back(::dup(mem));
  const sw::hello h{f.magic, f.ring};
  iovec iov{const_cast<sw::hello*>(&h), sizeof h};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * 8));
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (f.fds > 0) {
    m.msg_control = control.data();
    m.msg_controllen = CMSG_SPACE(sizeof(int) * static_cast<std::size_t>(f.fds));
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * static_cast<std::size_t>(f.fds));
    std::memcpy(CMSG_DATA(c), theirs.data(), sizeof(int) * static_cast<std::size_t>(f.fds));
  }
  EXPECT_EQ(::sendmsg(sock, &m, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof h));
  for (int fd : theirs) ::close(fd);
}

// Offers `f` to an accepting side: its error, or none if it took the offer (then `keep` is
// the forged peer of a live session, which `with_session` gets).
// Offers `f` to an accepting side: its error, or none if it took the offer (then `keep` is
// the forged peer of a live session, which `with_session` gets).
template <class WithSession>
std::optional<std::string> offer(const forgery& f, WithSession with_session) {
  std::optional<std::string> refusal;
  with_sockets([&](tp::stream_socket& c, tp::stream_socket& s) -> awaitable<void> {
    forged_peer peer;
    send_forged(c.native_handle(), f, peer);
    auto taken = co_await tp::shm::check(s);
    if (!taken) {
      refusal = taken.error().message();
      EXPECT_EQ(taken.error(), wire_errc::auth_failed);
      co_return;
    }
    char answer = 0;
    EXPECT_EQ(::recv(c.native_handle(), &answer, 1, 0), 1);
    EXPECT_EQ(answer, 'k');
    co_await with_session(*taken.value(), s, peer);
  });
  return refusal;
}

std::optional<std::string> offer(const forgery& f) {
  return offer(f, [](tp::secure_stream&, tp::stream_socket&, forged_peer&) -> awaitable<void> { co_return; });
}

void expect_refused(const forgery& f, std::string_view why) {
  const std::size_t before = open_fds();
  auto refusal = offer(f);
  EXPECT_TRUE(refusal) << "forged offer taken, expected: " << why;
  if (refusal) {
    EXPECT_NE(refusal->find(why), std::string::npos) << *refusal;
  }
  EXPECT_EQ(open_fds(), before) << "a descriptor of the refused offer was kept";
}

TEST(shm_forged_test, a_genuine_offer_by_hand_is_taken) { EXPECT_FALSE(offer(forgery{})); }

TEST(shm_forged_test, forged_offers_are_refused_with_a_reason) {
  expect_refused({.magic = 42}, "did not send the transport's hello");
  expect_refused({.fds = 0}, "0 descriptors");
  expect_refused({.fds = 2}, "2 descriptors");
  expect_refused({.fds = 5}, "more than 4 descriptors");
  expect_refused({.sealed = false}, "not sealed against resizing");
  expect_refused({.extra_bytes = -4096}, "not the");
  expect_refused({.extra_bytes = 4096}, "not the");
  expect_refused({.pipe_doorbells = true}, "not a socket");
  expect_refused({.ring = 3000}, "not a power of two");
  expect_refused({.ring = 1024}, "not a power of two");
}

TEST(shm_forged_test, an_acceptor_that_hangs_up_or_stays_silent_is_refused_by_the_connecting_side) {
  const std::size_t before = open_fds();
  for (const bool hang_up : {true, false}) {
    with_sockets([&](tp::stream_socket& c, tp::stream_socket& s) -> awaitable<void> {
      if (hang_up) s.close();
      auto offered = co_await tp::shm::prove(c);
      EXPECT_FALSE(offered);
      if (!offered) {
        EXPECT_EQ(offered.error(), wire_errc::auth_failed);
        EXPECT_NE(offered.error().message().find(hang_up ? "the peer closed the connection" : "in time"), std::string::npos)
            << offered.error().message();
      }
    });
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(shm_forged_test, a_silent_connecting_side_is_dropped_at_the_deadline) {
  with_sockets([&](tp::stream_socket&, tp::stream_socket& s) -> awaitable<void> {
    auto taken = co_await tp::shm::check(s);
    EXPECT_FALSE(taken);
    if (!taken) {
      EXPECT_NE(taken.error().message().find("in time"), std::string::npos) << taken.error().message();
    }
  });
}

// Random indexes in both control blocks, between reads and writes of the accepting side: each
// call moves at most a ring's bytes inside the ring, or fails with a protocol error.
TEST(shm_forged_test, scribbled_control_blocks_never_move_a_side_outside_its_rings) {
  auto refusal = offer(forgery{}, [](tp::secure_stream& session, tp::stream_socket& sock,
                                     forged_peer& peer) -> awaitable<void> {
    std::mt19937_64 rng(7);
    std::vector<char> buf(3 * 4096);
    int protocol_errors = 0;
    int moved = 0;
    for (int i = 0; i < 5000; ++i) {
      // Ring 0 is what the acceptor reads; ring 1 what it writes.
      const std::uint64_t wild = rng() % 4 == 0 ? rng() : rng() % (3 * 4096);
      peer.control(0).last.store(wild);
      peer.control(1).first.store(rng() % 4 == 0 ? rng() : rng() % (3 * 4096));
      boost::system::error_code ec;
      const std::size_t wrote = session.write_some(sock, boost::asio::buffer(buf), ec);
      EXPECT_LE(wrote, 4096u);
      protocol_errors += ec == boost::system::errc::protocol_error;
      auto got = co_await move_on_after(1ms, session.read_some(sock, boost::asio::buffer(buf)));
      if (got) {
        EXPECT_LE(std::get<1>(*got), 4096u);
        protocol_errors += std::get<0>(*got) == boost::system::errc::protocol_error;
        moved += std::get<1>(*got) > 0;
      }
    }
    EXPECT_GT(protocol_errors, 0);
    EXPECT_GT(moved, 0);
  });
  EXPECT_FALSE(refusal) << *refusal;
}

}  // namespace
}  // namespace tractor::testing
