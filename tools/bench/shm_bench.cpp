// shm_array: pushing 1 M records and reading them back through a reader's attachment,
// beside the floor measured in the same run: raw shared memory (a memfd mapped twice, one
// mapping written with memcpy, the other read), which faults its pages into both mappings
// as the array's owner and reader do. Pushes come in batches of 1, 64 and 4,096 records; each
// figure is the median of 7 rounds, each round on fresh memory.
// shm_ring: round trips of a 32-byte message with a forked child through two rings, looking
// again before a side sleeps and not (TRACTOR_SHM_SPIN_US=0), beside a C-style ring pair
// (spsc_floor.hpp) doing the same.
//     tools/bazel run -c opt //tools/bench:shm_bench
#include "tools/bench/bench_support.hpp"
#include "tools/bench/spsc_floor.hpp"

#include <tractor/shm.hpp>
#include <tractor/shm/detail/look.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <fmt/core.h>

#include <atomic>
#include <cstring>
#include <span>
#include <vector>

#include <sys/mman.h>

namespace {

struct tick {
  std::int64_t seq;
  double price;
};

constexpr std::size_t records = 1 << 20;
constexpr int rounds = 7;

/// Makes the records once; both sides copy from here.
std::vector<tick> source() {
  std::vector<tick> v(records);
  for (std::size_t i = 0; i < records; ++i) v[i] = {static_cast<std::int64_t>(i), static_cast<double>(i) * 0.25};
  return v;
}

double sum_of(std::span<const tick> s) {
  double sum = 0;
  for (const tick& t : s) sum += t.price;
  return sum;
}

/// The floor: memcpy in batches into one mapping of fresh shared memory, publishing a count
/// after each batch as the array does, then the same read through a second mapping.
double floor_ms(const std::vector<tick>& in, std::size_t batch, double& check) {
  const std::size_t bytes = records * sizeof(tick);
  const int fd = ::memfd_create("shm_bench_floor", MFD_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(bytes)) != 0) std::abort();
  void* w = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void* r = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (w == MAP_FAILED || r == MAP_FAILED) std::abort();
  auto* out = static_cast<tick*>(w);
  std::atomic<std::size_t> last{0};
  const auto t0 = bench::clk::now();
  for (std::size_t at = 0; at < records; at += batch) {
    std::memcpy(out + at, in.data() + at, batch * sizeof(tick));
    last.store(at + batch, std::memory_order_release);
  }
  check = sum_of({static_cast<const tick*>(r), last.load(std::memory_order_acquire)});
  const double ms = bench::ms_since(t0);
  ::munmap(w, bytes);
  ::munmap(r, bytes);
  return ms;
}

double shm_ms(const std::vector<tick>& in, std::size_t batch, double& check) {
  auto a = tractor::open_shm_array<tick>("bench", records);
  if (!a) {
    fmt::print(stderr, "{}\n", a.error().message());
    std::exit(1);
  }
  auto r = tractor::attach_shm_array<tick>(a.value().token());
  if (!r) std::abort();
  const auto t0 = bench::clk::now();
  for (std::size_t at = 0; at < records; at += batch) {
    if (!a.value().push(std::span<const tick>(in.data() + at, batch))) std::abort();
  }
  check = sum_of(r.value().view());
  return bench::ms_since(t0);
}

}  // namespace

/// Runs `body` on a fresh loop until it is done.
template <class Body>
void on_own_loop(Body body) {
  boost::asio::io_context ctx;
  boost::asio::co_spawn(ctx, body(ctx.get_executor()), boost::asio::detached);
  ctx.run();
}

/// `count` round trips of a 32-byte message with a forked child, through a ring each way:
/// microseconds each, with TRACTOR_SHM_SPIN_US as the caller set it.
double ring_round_trip_us(long count) {
  double us = 0;
  on_own_loop([&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<void> {
    auto ping = tractor::open_shm_ring(ex, "bench-ping", 4096);
    auto pong = tractor::open_shm_ring(ex, "bench-pong", 4096);
    if (!ping || !pong) std::_Exit(2);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      on_own_loop([&](boost::asio::any_io_executor own) -> boost::asio::awaitable<void> {
        auto in = tractor::attach_shm_ring(own, ping.value().token());
        auto out = tractor::attach_shm_ring(own, pong.value().token());
        if (!in || !out) std::_Exit(3);
        std::vector<std::byte> m;
        for (long i = 0; i < count; ++i) {
          const auto got = co_await in.value().receive(m);
          if (!got) std::_Exit(4);
          const auto sent = co_await out.value().send(m);
          if (!sent) std::_Exit(4);
        }
      });
      std::_Exit(0);
    }
    const std::vector<std::byte> m(32, std::byte{'p'});
    std::vector<std::byte> back;
    const auto t0 = bench::clk::now();
    for (long i = 0; i < count; ++i) {
      const auto sent = co_await ping.value().send(m);
      if (!sent) std::_Exit(5);
      const auto got = co_await pong.value().receive(back);
      if (!got) std::_Exit(5);
    }
    us = bench::ms_since(t0) * 1000.0 / static_cast<double>(count);
    ::waitpid(pid, nullptr, 0);
  });
  return us;
}

void bench_ring_round_trips() {
  constexpr long count = 20000;
  const auto look = tractor::shm_detail::spin_from_env().value();
  const double c_ring = bench::spsc_round_trip_us(count, 4096);
  const double c_ring_looking = bench::spsc_round_trip_us(count, 4096, look);
  const double looking = ring_round_trip_us(count);
  ::setenv("TRACTOR_SHM_SPIN_US", "0", 1);
  const double not_looking = ring_round_trip_us(count);
  ::unsetenv("TRACTOR_SHM_SPIN_US");
  fmt::print("shm_ring round trip (32 B, a forked child): C ring {:.2f} us, looking {} us first {:.2f} us | "
             "shm_ring looking {:.2f} us = {:.2f}x the looking C ring | not looking {:.2f} us = {:.2f}x the C ring\n",
             c_ring, look.count(), c_ring_looking, looking, looking / c_ring_looking, not_looking,
             not_looking / c_ring);
}

int main() {
  const auto in = source();
  const double expected = sum_of(in);
  const double mib = records * sizeof(tick) / (1024.0 * 1024.0);
  fmt::print("shm_array: {} records of {} bytes ({:.0f} MiB), pushed then read; median of {} rounds\n", records,
             sizeof(tick), mib, rounds);
  fmt::print("{:>8} {:>14} {:>14} {:>8}\n", "batch", "floor MiB/s", "shm MiB/s", "ratio");
  for (const std::size_t batch : {std::size_t{1}, std::size_t{64}, std::size_t{4096}}) {
    std::vector<double> f, s;
    for (int i = 0; i < rounds; ++i) {
      double c1 = 0, c2 = 0;
      f.push_back(floor_ms(in, batch, c1));
      s.push_back(shm_ms(in, batch, c2));
      if (c1 != expected || c2 != expected) {
        fmt::print(stderr, "wrong sum: floor {} shm {} expected {}\n", c1, c2, expected);
        return 1;
      }
    }
    const double floor_rate = mib / (bench::median(f) / 1000), shm_rate = mib / (bench::median(s) / 1000);
    fmt::print("{:>8} {:>14.0f} {:>14.0f} {:>7.2f}x\n", batch, floor_rate, shm_rate, shm_rate / floor_rate);
  }
  bench_ring_round_trips();
}
