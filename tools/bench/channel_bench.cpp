// Channel benchmark: tractor's framed channels against raw sockets, in the same run, with
// the same message sizes and the same placement (sender in this process, receiver in a
// forked child; the OS places both).
//
//     tools/bazel run //tools/bench:channel_bench [-- --small N --large N --rtt N]
//                                                 [--rounds K] [--only uds|tcp|shm]
//
// With --rounds K every measurement runs K times, floors and channels alternately, and the
// bench ends with each ratio's median (the figure to quote where the machine's speed drifts
// between runs).
//
// Floors, per transport (socket_floor.hpp; for shm: a C-style ring pair with the same sizes,
// spsc_floor.hpp):
//   raw 1/syscall  one write() per 4-byte-length-prefixed frame, reader parses a 64 KiB buffer
//   raw batched    frames packed into 64 KiB writes, same reader
//   raw 1 MiB      one buffer written again and again; a buffer of its own per frame; and the
//                  same after the kernel has read each once (its first read of a page can
//                  cost far more than later ones: the bench prints both)
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
#include "tools/bench/socket_floor.hpp"
#include "tools/bench/spsc_floor.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <cstring>
#include <string>
#include <utility>
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
using bench::fork_pair;
using bench::raw_one_way;
using bench::raw_round_trip_us;
using bench::reap;
using bench::source;

struct options {
  int small = 1000000;
  int large = 200;
  int rtt = 20000;
  int rounds = 1;
  std::string only;
};

/// One round's ratios of a transport: small one-way as a share of the batched floor, 1 MiB
/// one-way and round trips against their floors.
struct ratios {
  double small_share = 0, large = 0, round_trip = 0;
};

/// BENCH_CHANNEL_ONLY=small|large|rtt: the channel alone, no floors, for a profiler (which the
/// bench tells when each clock starts).
const char* const profile_only = std::getenv("BENCH_CHANNEL_ONLY");

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
double channel_one_way(std::size_t payload, long count, bool read_once = false) {
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
    if (read_once) {
      for (const auto& own : items) {
        const auto& bytes = std::get<m::Yield>(own).pld.bytes;
        bench::kernel_read_once(bytes.data(), bytes.size());
      }
    }
    if (profile_only) fmt::print(stderr, "the clock starts\n");
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

/// What the kernel's reading of a page of fresh buffers costs, the first time and the second
/// (`count` buffers of 1 MiB, written by this process first): microseconds per 4 KiB page.
std::pair<double, double> kernel_read_cost_us(long count) {
  std::vector<std::string> buffers(static_cast<std::size_t>(count), std::string(1 << 20, 'p'));
  double us[2] = {0, 0};
  for (double& pass : us) {
    const auto t0 = clk::now();
    for (const auto& b : buffers) bench::kernel_read_once(b.data(), b.size());
    pass = std::chrono::duration<double, std::micro>(clk::now() - t0).count() / (static_cast<double>(count) * 256);
  }
  return {us[0], us[1]};
}

template <class Transport>
ratios run(const options& o) {
  const std::string t(Transport::name);
  if (profile_only) {
    if (std::string_view(profile_only) == "rtt") {
      fmt::print("{} channel round trip {:.2f} us\n", t, channel_round_trip_us<Transport>(o.rtt));
    } else if (std::string_view(profile_only) == "large") {
      // Payloads the kernel has read once (see run's 1 MiB lines): the channel's own cost.
      fmt::print("{} channel 1 MiB one-way {:.1f} MiB/s\n", t, channel_one_way<Transport>(1 << 20, o.large, true));
    } else {
      fmt::print("{} channel small one-way {:.3f} M/s\n", t, channel_one_way<Transport>(32, o.small) / 1e6);
    }
    return {};
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
    // The floor above re-sends one buffer; the channel sends a buffer per message. Where the
    // kernel's first read of a page costs much more than later ones, that alone divides the
    // rate; the same buffers, read once by the kernel before the clock, show what is left.
    const double raw_own = raw_one_way<Transport>(1 << 20, o.large, false, source::own_buffers);
    fmt::print("{:4} 1 MiB one-way   raw, a buffer per message {:8.1f} MiB/s | channel = {:5.2f}x\n", t, raw_own,
               ch_large / raw_own);
    const double raw_read = raw_one_way<Transport>(1 << 20, o.large, false, source::own_buffers_read_once);
    const double ch_read = channel_one_way<Transport>(1 << 20, o.large, true);
    fmt::print("{:4} 1 MiB one-way   the same, each buffer read once by the kernel before the clock: raw {:8.1f} MiB/s"
               " | channel {:8.1f} MiB/s = {:5.2f}x raw (one buffer)\n",
               t, raw_read, ch_read, ch_read / raw_large);
  }
  const double raw_rtt = shm ? bench::spsc_round_trip_us(o.rtt, ring) : raw_round_trip_us<Transport>(o.rtt);
  const double ch_rtt = channel_round_trip_us<Transport>(o.rtt);
  fmt::print("{:4} round trip      raw {:8.2f} us | channel {:8.2f} us = {:5.2f}x raw\n", t, raw_rtt, ch_rtt,
             ch_rtt / raw_rtt);
  if (shm) {
    // The transport looks again before it sleeps while its peer works on another CPU; the
    // same ring doing the same (a busy loop, as long as the transport's window) is its floor.
    const auto look = tp::shm_spin().value();
    const double looking_rtt = bench::spsc_round_trip_us(o.rtt, ring, look);
    fmt::print("{:4} round trip      C ring looking {} us before it sleeps {:8.2f} us | channel = {:5.2f}x\n", t,
               look.count(), looking_rtt, ch_rtt / looking_rtt);
  }
  return {100 * ch_small / batched, ch_large / raw_large, ch_rtt / raw_rtt};
}

/// Runs `Transport`'s measurements into `all` unless `--only` names another transport.
template <class Transport>
void run_if_chosen(const options& o, std::map<std::string_view, std::vector<ratios>>& all) {
  if (o.only.empty() || o.only == Transport::name) all[Transport::name].push_back(run<Transport>(o));
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
    if (k == "--rounds") o.rounds = std::max(1, v);
    if (k == "--only") o.only = argv[i + 1];
  }
  bench::steady_malloc();
  fmt::print("tractor channel benchmark ({} small, {} large, {} round trips; sender here, receiver forked)\n",
             o.small, o.large, o.rtt);
  if (!profile_only) {
    const auto [first, again] = kernel_read_cost_us(o.large);
    fmt::print("the kernel's read of a page this process wrote: {:.2f} us the first time, {:.2f} us again\n", first,
               again);
  }
  std::map<std::string_view, std::vector<ratios>> all;
  for (int round = 0; round < o.rounds; ++round) {
    run_if_chosen<tp::uds>(o, all);
    run_if_chosen<tp::tcp>(o, all);
    run_if_chosen<tp::shm>(o, all);
  }
  if (o.rounds < 2 || profile_only) return 0;
  for (const auto& [name, rounds] : all) {
    const auto median_of = [&](double ratios::*field) {
      std::vector<double> v;
      for (const auto& r : rounds) v.push_back(r.*field);
      return bench::median(v);
    };
    fmt::print("{:4} median of {} rounds: small one-way {:5.1f}% of batched | 1 MiB {:5.2f}x raw | round trip {:5.2f}x raw\n",
               name, rounds.size(), median_of(&ratios::small_share), median_of(&ratios::large),
               median_of(&ratios::round_trip));
  }
}
