// Definitions for tractor/shm/segment.hpp that are not templates: compiled once (src/) under
// TRACTOR_SEPARATE_COMPILATION, else included by that header (tractor/config.hpp).
#pragma once

#include <tractor/shm/segment.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tractor {

namespace shm_detail {

inline result<void> check_key(std::string_view key) {
  const bool ok = !key.empty() && key.size() <= 200 &&
                  key.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
                      std::string_view::npos;
  if (ok) return success();
  return error(make_error_code(shm_errc::bad_key),
               "bad shared-memory key '" + std::string(key) +
                   "': 1 to 200 letters, digits, '.', '_' or '-' (it becomes part of a file name)");
}

/// Bytes for `capacity` elements of `elem_size` after the header; nothing on overflow.
inline std::optional<std::size_t> segment_size(std::uint64_t elem_size, std::uint64_t capacity) {
  if (elem_size != 0 && capacity > (SIZE_MAX - data_offset) / elem_size) return std::nullopt;
  return data_offset + static_cast<std::size_t>(elem_size * capacity);
}

TRACTOR_DECL const char* kind_name(std::uint32_t k) {
  switch (static_cast<shm_kind>(k)) {
    case shm_kind::array: return "array";
    case shm_kind::list: return "list";
    case shm_kind::ring: return "ring";
  }
  return "unknown object";
}

}  // namespace shm_detail

TRACTOR_DECL std::optional<std::string> shm_group() {
  const char* g = std::getenv("TRACTOR_SHM_GROUP");
  if (!g || std::strlen(g) != 8 ||
      std::string_view(g).find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(g);
}

TRACTOR_DECL shm_segment::shm_segment(shm_segment&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      size_(other.size_),
      token_(std::move(other.token_)),
      owner_(std::exchange(other.owner_, false)),
      writable_(other.writable_) {}

TRACTOR_DECL shm_segment& shm_segment::operator=(shm_segment&& other) noexcept {
  if (this != &other) {
    close();
    base_ = std::exchange(other.base_, nullptr);
    size_ = other.size_;
    token_ = std::move(other.token_);
    owner_ = std::exchange(other.owner_, false);
    writable_ = other.writable_;
  }
  return *this;
}

TRACTOR_DECL void shm_segment::close() noexcept {
  if (!base_) return;
  // Unlinked while still mapped: a named segment always has a live mapping until its owner
  // ends, so a sweep for unused segments (tractor-reap --shm, the test fixture) never
  // catches one between its owner's munmap and unlink.
  if (owner_) {
    ::shm_unlink(token_.name.c_str());
    owner_ = false;
  }
  ::munmap(base_, size_);
  base_ = nullptr;
}

TRACTOR_DECL result<shm_segment> shm_segment::create(std::string_view key, shm_token t) {
  BOOST_OUTCOME_TRY(shm_detail::check_key(key));
  const auto size = shm_detail::segment_size(t.elem_size, t.capacity);
  if (!size) {
    return error(make_error_code(shm_errc::no_room),
                 "a shared-memory segment of " + std::to_string(t.capacity) + " elements of " +
                     std::to_string(t.elem_size) + " bytes is larger than memory");
  }
  std::uint32_t id[2] = {};
  if (::getrandom(id, sizeof id, 0) != static_cast<ssize_t>(sizeof id)) {
    return shm_detail::system_error(errno, "no random bytes for a shared-memory name");
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%08x%08x", id[0], id[1]);
  if (const auto group = shm_group()) std::memcpy(hex, group->data(), 8);
  t.name = "/" + std::string(shm_name_prefix) + hex + "-" + std::string(key);
  const int fd = ::shm_open(t.name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return shm_detail::system_error(errno, "cannot create shared-memory segment " + t.name);
  // From here on the name exists: every failure unlinks it.
  auto fail = [&](int err, const std::string& what) -> result<shm_segment> {
    ::close(fd);
    ::shm_unlink(t.name.c_str());
    return shm_detail::system_error(err, what + " " + t.name);
  };
  if (::ftruncate(fd, static_cast<off_t>(*size)) != 0) return fail(errno, "cannot size shared-memory segment");
  void* base = ::mmap(nullptr, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return fail(errno, "cannot map shared-memory segment");
  ::close(fd);
  auto* h = new (base) shm_detail::header{};
  h->kind = t.kind;
  h->data_offset = shm_detail::data_offset;
  h->elem_size = t.elem_size;
  h->type_hash = t.type_hash;
  h->capacity = t.capacity;
  // Written last: an attacher that sees the magic sees a complete header.
  h->magic.store(shm_detail::magic, std::memory_order_release);
  return shm_segment(base, *size, std::move(t), /*owner=*/true, /*writable=*/true);
}

TRACTOR_DECL result<shm_segment> shm_segment::attach(const shm_token& t, bool writable) {
  if (!t.name.starts_with("/" + std::string(shm_name_prefix)) || t.name.size() > 255 ||
      t.name.find('/', 1) != std::string::npos) {
    return error(make_error_code(shm_errc::not_a_segment),
                 "'" + t.name + "' is not the name of a tractor shared-memory segment");
  }
  const int fd = ::shm_open(t.name.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
  if (fd < 0) return shm_detail::system_error(errno, "cannot open shared-memory segment " + t.name);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return shm_detail::system_error(err, "cannot stat shared-memory segment " + t.name);
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  const auto wanted = shm_detail::segment_size(t.elem_size, t.capacity);
  if (size < shm_detail::data_offset || !wanted || size < *wanted) {
    ::close(fd);
    return error(make_error_code(shm_errc::not_a_segment),
                 "shared-memory segment " + t.name + " has " + std::to_string(size) +
                     " bytes, too few for its header and " + std::to_string(t.capacity) + " elements");
  }
  void* base = ::mmap(nullptr, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  const int map_err = errno;
  ::close(fd);
  if (base == MAP_FAILED) return shm_detail::system_error(map_err, "cannot map shared-memory segment " + t.name);
  shm_segment s(base, size, t, /*owner=*/false, writable);
  const auto& h = s.head();
  if (h.magic.load(std::memory_order_acquire) != shm_detail::magic ||
      h.data_offset != shm_detail::data_offset) {
    return error(make_error_code(shm_errc::not_a_segment),
                 "shared-memory segment " + t.name + " was not made by this library (or is not ready)");
  }
  if (h.kind != t.kind || h.elem_size != t.elem_size || h.type_hash != t.type_hash || h.capacity != t.capacity) {
    return error(make_error_code(shm_errc::type_mismatch),
                 "shared-memory segment " + t.name + " holds the " + shm_detail::kind_name(h.kind) + " of " +
                     std::to_string(h.capacity) + " elements of " + std::to_string(h.elem_size) +
                     " bytes (type " + std::to_string(h.type_hash) + "), not the " + shm_detail::kind_name(t.kind) +
                     " of " + std::to_string(t.capacity) + " elements of " + std::to_string(t.elem_size) +
                     " bytes (type " + std::to_string(t.type_hash) + ") expected");
  }
  return s;
}

}  // namespace tractor
