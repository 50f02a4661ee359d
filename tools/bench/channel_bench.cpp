// Channel benchmark: tractor's framed channels against raw sockets, in the same run, with
// the same message sizes and the same placement (sender in this process, receiver in a
// forked child; the OS places both).
//
//     tools/bazel run //tools/bench:channel_bench [-- --small N --large N --rtt N]
//
// Floors, per transport (for shm: a C-style ring pair with the same sizes, spsc_floor.hpp):
//   raw 1/syscall  one write() per 4-byte-length-prefixed frame, reader parses a 64 KiB buffer
//   raw batched    frames packed into 64 KiB writes, same reader
//   raw ping-pong  one frame each way per round trip, blocking sockets
// Measured: one-way throughput of ~32-byte payloads and of 1 MiB payloads, and round trips,
// through `transport::channel` with the cereal_binary codec.
#include <tractor/codec/cereal_binary.hpp>
#include <tractor/core/nursery.hpp>
#include <tractor/transport/channel.hpp>
#include <tractor/transport/shm.hpp>
#include <tractor/transport/tcp.hpp>
#include <tractor/transport/uds.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <fmt/core.h>

#include "tools/bench/bench_support.hpp"
#include "tools/bench/spsc_floor.hpp"

#include <chrono>
#include <optional>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace tractor;
namespace tp = tractor::transport;
namespace m = tractor::msg;
using clk = std::chrono::steady_clock;

struct options {
  int small = 1000000;
  int large = 200;
  int rtt = 20000;
};

// -- raw floor -------------------------------------------------------------------------------

// Blocking helpers over a connected fd.
void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w <= 0) std::abort();
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void read_all(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r <= 0) std::abort();
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

// Reads `count` frames of any size, parsing them out of a 64 KiB buffer; then acks.
void raw_receive_frames(int fd, long count) {
  bench::receive_frames(
      count,
      [fd](char* p, std::size_t n) {
        const ssize_t r = ::read(fd, p, n);
        if (r <= 0) std::abort();
        return static_cast<std::size_t>(r);
      },
      [fd](char* p, std::size_t n) { read_all(fd, p, n); });
  char ack = 1;
  write_all(fd, &ack, 1);
}

std::string raw_frame(std::size_t payload) {
  std::string f(4 + payload, 'p');
  const auto len = static_cast<std::uint32_t>(payload);
  std::memcpy(f.data(), &len, 4);
  return f;
}

int blocking(int fd);

// A connected pair across a fork: returns the parent's fd; the child runs `child(fd)` and exits.
template <class Transport, class Child>
int fork_pair(Child child) {
  boost::asio::io_context ctx;
  auto l = Transport::listen(ctx.get_executor(), Transport::bind_addr("bench-" + std::to_string(::getpid())));
  if (!l) {
    fmt::print(stderr, "listen: {}\n", l.error().message());
    std::exit(1);
  }
  const tp::multiaddr addr = l.value().address();
  const pid_t pid = ::fork();
  if (pid == 0) {
    boost::asio::io_context cctx;
    int fd = -1;
    boost::asio::co_spawn(cctx, [&]() -> awaitable<void> {
      auto s = co_await Transport::connect(cctx.get_executor(), addr);
      if (!s) std::_Exit(2);
      fd = s.value().release();
    }, boost::asio::detached);
    cctx.run();
    child(blocking(fd));
    std::_Exit(0);
  }
  int fd = -1;
  boost::asio::co_spawn(ctx, [&]() -> awaitable<void> {
    auto s = co_await l.value().accept();
    if (!s) std::_Exit(3);
    fd = s.value().release();
  }, boost::asio::detached);
  ctx.run();
  return blocking(fd);
}

// Asio leaves sockets it drove in non-blocking mode; the raw floor uses blocking I/O.
int blocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

void reap() {
  int status = 0;
  ::wait(&status);
}

/// With `distinct`, each frame is written from a buffer of its own, made before the clock
/// starts, as a channel sends large payloads (each the producer's own); otherwise every frame is
/// written from one buffer, which stays in the caches and the TLB.
template <class Transport>
double raw_one_way(std::size_t payload, long count, bool batched, bool distinct = false) {
  int fd = fork_pair<Transport>([&](int cfd) { raw_receive_frames(cfd, count); });
  const std::string frame = raw_frame(payload);
  std::vector<std::string> frames(distinct ? static_cast<std::size_t>(count) : 0, frame);
  std::string batch;
  const auto t0 = clk::now();
  for (long i = 0; i < count; ++i) {
    if (distinct) {
      const std::string& own = frames[static_cast<std::size_t>(i)];
      write_all(fd, own.data(), own.size());
      continue;
    }
    if (!batched) {
      write_all(fd, frame.data(), frame.size());
      continue;
    }
    batch += frame;
    if (batch.size() >= (1 << 16)) {
      write_all(fd, batch.data(), batch.size());
      batch.clear();
    }
  }
  if (!batch.empty()) write_all(fd, batch.data(), batch.size());
  char ack;
  read_all(fd, &ack, 1);
  const double secs = std::chrono::duration<double>(clk::now() - t0).count();
  ::close(fd);
  reap();
  return static_cast<double>(count) / secs;
}

template <class Transport>
double raw_round_trip_us(long count) {
  int fd = fork_pair<Transport>([&](int cfd) {
    std::string f = raw_frame(32);
    for (long i = 0; i < count; ++i) {
      read_all(cfd, f.data(), f.size());
      write_all(cfd, f.data(), f.size());
    }
  });
  std::string f = raw_frame(32);
  const auto t0 = clk::now();
  for (long i = 0; i < count; ++i) {
    write_all(fd, f.data(), f.size());
    read_all(fd, f.data(), f.size());
  }
  const double us = std::chrono::duration<double, std::micro>(clk::now() - t0).count() / static_cast<double>(count);
  ::close(fd);
  reap();
  return us;
}

// -- tractor channels --------------------------------------------------------------------------

using codec_t = codec::cereal_binary;

// Runs `body(channel&)` on a fresh io_context over an fd from fork_pair; under shm, after the
// transport's handshake (the child connected: it offers the rings).
template <class Transport, class Body>
void with_channel(int fd, bool connected_here, Body body) {
  boost::asio::io_context ctx;
  tp::stream_socket s(ctx);
  const int family = [&] {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    return static_cast<int>(ss.ss_family);
  }();
  s.assign(boost::asio::generic::stream_protocol(family, family == AF_UNIX ? 0 : IPPROTO_TCP), fd);
  boost::asio::co_spawn(ctx, [&]() -> awaitable<void> {
    tp::connection c{std::move(s)};
    if constexpr (std::is_same_v<Transport, tp::shm>) {
      std::optional<result<std::unique_ptr<tp::secure_stream>>> session;
      if (connected_here) {
        session = co_await tp::shm::prove(c.socket);
      } else {
        session = co_await tp::shm::check(c.socket);
      }
      if (!*session) std::_Exit(12);
      c.secure = std::move(*session).value();
    }
    auto ch = tp::channel::make<codec_t>(std::move(c));
    co_await body(*ch);
  }, boost::asio::detached);
  ctx.run();
}

// Every item carries its sequence number in its payload's first 8 bytes (after the payload's
// own 8-byte length); the receiver checks them, so the benchmark also proves nothing is lost,
// duplicated or reordered.
constexpr std::size_t seq_offset = 8;

void stamp(m::msg& item, long seq) {
  std::memcpy(std::get<m::Yield>(item).pld.bytes.data() + seq_offset, &seq, sizeof(seq));
}

long seq_of(const m::msg& item) {
  long seq = -1;
  const auto* y = std::get_if<m::Yield>(&item);
  if (!y || y->pld.bytes.size() < seq_offset + sizeof(seq)) std::_Exit(10);
  std::memcpy(&seq, y->pld.bytes.data() + seq_offset, sizeof(seq));
  return seq;
}

// One message object is kept and decoded into, as a consumer of many small messages would.
awaitable<void> receive_n(tp::channel& ch, long count) {
  m::msg item;
  for (long i = 0; i < count; ++i) {
    auto ready = ch.try_receive(item);  // buffered frames first: no coroutine, no syscall
    if (!ready) {
      auto r = co_await ch.receive(item);
      if (!r) std::_Exit(4);
    } else if (!*ready) {
      std::_Exit(4);
    }
    if (seq_of(item) != i) {
      fmt::print(stderr, "item {} arrived as {}\n", i, seq_of(item));
      std::_Exit(11);
    }
  }
  m::msg done = m::Stop{"done"};
  (void)co_await ch.send(std::move(done));
}

template <class Transport>
double channel_one_way(std::size_t payload, long count) {
  int fd = fork_pair<Transport>([&](int cfd) {
    with_channel<Transport>(cfd, true, [&](tp::channel& ch) { return receive_n(ch, count); });
  });
  double rate = 0;
  with_channel<Transport>(fd, false, [&](tp::channel& ch) -> awaitable<void> {
    m::msg item = m::Yield{"c1", codec_t::encode_payload(std::string(payload, 'p'))};
    // Large items are each the producer's own, made before the clock starts: a send takes
    // them over (and writes them without a copy).
    const bool large = payload >= tp::channel::large_payload;
    std::vector<m::msg> items(large ? static_cast<std::size_t>(count) : 0, item);
    const auto t0 = clk::now();
    auto r = co_await open_nursery([&](nursery& n) -> awaitable<void> {
      n.start_soon(ch.run_writer());
      for (long i = 0; i < count; ++i) {
        if (large) {
          m::msg& own = items[static_cast<std::size_t>(i)];
          stamp(own, i);
          auto s = co_await ch.send(std::move(own));
          if (!s) std::_Exit(5);
          continue;
        }
        stamp(item, i);
        if (ch.try_send(item)) continue;  // queued for the writer task: no coroutine
        m::msg copy = item;
        auto s = co_await ch.send(std::move(copy));
        if (!s) std::_Exit(5);
      }
      auto ack = co_await ch.receive();
      if (!ack) std::_Exit(6);
      n.cancel();
    });
    if (!r) std::_Exit(7);
    rate = static_cast<double>(count) / std::chrono::duration<double>(clk::now() - t0).count();
  });
  reap();
  return rate;
}

template <class Transport>
double channel_round_trip_us(long count) {
  int fd = fork_pair<Transport>([&](int cfd) {
    with_channel<Transport>(cfd, true, [&](tp::channel& ch) -> awaitable<void> {
      for (long i = 0; i < count; ++i) {
        auto r = co_await ch.receive();
        if (!r) std::_Exit(8);
        (void)co_await ch.send(std::move(r).value());
      }
    });
  });
  double us = 0;
  with_channel<Transport>(fd, false, [&](tp::channel& ch) -> awaitable<void> {
    const auto pld = codec_t::encode_payload(std::string(32, 'p'));
    const auto t0 = clk::now();
    for (long i = 0; i < count; ++i) {
      m::msg item = m::Yield{"c1", pld};
      (void)co_await ch.send(std::move(item));
      auto r = co_await ch.receive();
      if (!r) std::_Exit(9);
    }
    us = std::chrono::duration<double, std::micro>(clk::now() - t0).count() / static_cast<double>(count);
  });
  reap();
  return us;
}

template <class Transport>
void run(const options& o) {
  const std::string t(Transport::name);
  if (const char* only = std::getenv("BENCH_CHANNEL_ONLY")) {  // for profiling the channel alone
    if (std::string_view(only) == "large") {
      fmt::print("{} channel 1 MiB one-way {:.1f} MiB/s\n", t, channel_one_way<Transport>(1 << 20, o.large));
    } else {
      fmt::print("{} channel small one-way {:.3f} M/s\n", t, channel_one_way<Transport>(32, o.small) / 1e6);
    }
    return;
  }
  constexpr bool shm = std::is_same_v<Transport, tp::shm>;
  const std::size_t ring = shm ? tp::shm_ring_bytes().value() : 0;
  const double one = shm ? bench::spsc_one_way(32, o.small, ring) : raw_one_way<Transport>(32, o.small, false);
  const double batched = shm ? bench::spsc_one_way(32, o.small * 4L, ring, true) : raw_one_way<Transport>(32, o.small * 4L, true);
  const double ch_small = channel_one_way<Transport>(32, o.small);
  if (shm) {
    fmt::print("{:4} small one-way   C ring 1/frame {:8.3f} M/s | C ring batched {:8.3f} M/s | channel {:8.3f} M/s"
               " = {:5.1f}% of batched\n",
               t, one / 1e6, batched / 1e6, ch_small / 1e6, 100 * ch_small / batched);
  } else {
    fmt::print("{:4} small one-way   raw 1/syscall {:8.3f} M/s | raw batched {:8.3f} M/s | channel {:8.3f} M/s"
               " = {:5.2f}x 1/syscall, {:5.1f}% of batched\n",
               t, one / 1e6, batched / 1e6, ch_small / 1e6, ch_small / one, 100 * ch_small / batched);
  }
  const double raw_large = (shm ? bench::spsc_one_way(1 << 20, o.large, ring) : raw_one_way<Transport>(1 << 20, o.large, false));
  const double ch_large = channel_one_way<Transport>(1 << 20, o.large);
  fmt::print("{:4} 1 MiB one-way   raw {:8.1f} MiB/s | channel {:8.1f} MiB/s = {:5.2f}x raw\n", t, raw_large,
             ch_large, ch_large / raw_large);
  if (!shm) {
    // The floor above re-sends one buffer; the channel sends a buffer per message, whose
    // first touch by the kernel costs what a cold buffer costs on this host.
    const double raw_distinct = raw_one_way<Transport>(1 << 20, o.large, false, true);
    fmt::print("{:4} 1 MiB one-way   raw, a buffer per message {:8.1f} MiB/s | channel = {:5.2f}x\n", t,
               raw_distinct, ch_large / raw_distinct);
  }
  const double raw_rtt = shm ? bench::spsc_round_trip_us(o.rtt, ring) : raw_round_trip_us<Transport>(o.rtt);
  const double ch_rtt = channel_round_trip_us<Transport>(o.rtt);
  fmt::print("{:4} round trip      raw {:8.2f} us | channel {:8.2f} us = {:5.2f}x raw\n", t, raw_rtt, ch_rtt,
             ch_rtt / raw_rtt);
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--small") o.small = v;
    if (k == "--large") o.large = v;
    if (k == "--rtt") o.rtt = v;
  }
  fmt::print("tractor channel benchmark ({} small, {} large, {} round trips; sender here, receiver forked)\n",
             o.small, o.large, o.rtt);
  run<tp::uds>(o);
  run<tp::tcp>(o);
  run<tp::shm>(o);
}
