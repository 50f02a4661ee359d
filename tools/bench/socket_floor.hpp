// The socket floors of channel_bench: what a program written by hand for each job does with a
// connected socket across a fork (blocking writes and reads, frames parsed out of 64 KiB reads),
// with no event loop, codec or channel.
#pragma once

#include <tractor/transport/transport.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <fmt/core.h>

#include "tools/bench/bench_support.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

using tractor::awaitable;

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
  const tractor::transport::multiaddr addr = l.value().address();
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

/// Where the sender's frames are: one buffer written again and again (it stays in the caches
/// and the TLB), or a buffer of its own per frame, made before the clock starts, as a channel
/// sends large payloads (each the producer's own); and, for the last, whether the kernel has
/// read each of those once before the clock (bench::kernel_read_once).
enum class source { one_buffer, own_buffers, own_buffers_read_once };

template <class Transport>
double raw_one_way(std::size_t payload, long count, bool batched, source from = source::one_buffer) {
  int fd = fork_pair<Transport>([&](int cfd) { raw_receive_frames(cfd, count); });
  const std::string frame = raw_frame(payload);
  const bool distinct = from != source::one_buffer;
  std::vector<std::string> frames(distinct ? static_cast<std::size_t>(count) : 0, frame);
  if (from == source::own_buffers_read_once) {
    for (const auto& f : frames) bench::kernel_read_once(f.data(), f.size());
  }
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

}  // namespace bench
