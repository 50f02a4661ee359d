// shm_array: pushing 1 M records and reading them back through a reader's attachment,
// beside the floor measured in the same run: raw shared memory (a memfd mapped twice, one
// mapping written with memcpy, the other read), which faults its pages into both mappings
// as the array's owner and reader do. Pushes come in batches of 1, 64 and 4,096 records; each
// figure is the median of 7 rounds, each round on fresh memory.
//     tools/bazel run -c opt //tools/bench:shm_bench
#include "tools/bench/bench_support.hpp"

#include <tractor/shm.hpp>

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
}
