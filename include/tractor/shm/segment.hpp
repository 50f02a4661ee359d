// tractor/shm/segment.hpp — a named POSIX shared-memory segment holding one typed object
// (an array, a list), and the token that lets another actor attach to it.
//
// Naming. Every segment is named `/tractor-<16 hex digits>-<key>` (in /dev/shm), the digits
// random, or the first 8 of them `TRACTOR_SHM_GROUP` when that is set (8 hex digits: what a
// program and its children create is then recognisable as theirs, as the test fixture does):
// - found by name, so its token can travel in any message over any transport (TCP too) and
//   an unrelated process on the host can attach; nothing has to pass a descriptor;
// - recognisable, so `tractor-reap --shm` and the test fixture can sweep what a killed owner
//   left behind (the price of a name: memfd segments would leave nothing, but could reach
//   another actor only as a descriptor over UDS);
// - unique per segment (the random part), so two actors may use the same key.
// The creator owns the segment: it unlinks the name when its object is closed or destroyed,
// which an actor's teardown does for every object its tasks hold, cancellation included.
// Mappings attached elsewhere stay valid after the unlink, until they are closed.
//
// Layout: a 128-byte header (magic, kind, element size and type, capacity, the `first` and
// `last` indexes an array or ring shares, a ring's wakeup flags), then the elements.
#pragma once

#include <tractor/config.hpp>
#include <tractor/core/error.hpp>
#include <tractor/shm/error.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tractor {

/// What a segment holds.
enum class shm_kind : std::uint32_t { array = 1, list = 2, ring = 3 };

/// Everything needed to attach to a segment: its name and what it holds. Serialisable with
/// every codec (it is a plain struct with `serialize`), so a call or a context can hand a
/// segment to another actor.
struct shm_token {
  std::string name;
  std::uint32_t kind = 0;
  std::uint64_t elem_size = 0;
  std::uint64_t type_hash = 0;
  std::uint64_t capacity = 0;

  template <class Archive>
  void serialize(Archive& a) {
    a(name, kind, elem_size, type_hash, capacity);
  }
  friend bool operator==(const shm_token&, const shm_token&) = default;
};

namespace shm_detail {

/// The header at the start of every segment.
struct header {
  std::atomic<std::uint64_t> magic;  // stored last by the creator
  std::uint32_t kind;
  std::uint32_t data_offset;
  std::uint64_t elem_size;
  std::uint64_t type_hash;
  std::uint64_t capacity;
  std::atomic<std::uint64_t> first;
  std::atomic<std::uint64_t> last;
  // A ring's: whether each side sleeps on its doorbell, and whether a side closed it.
  std::atomic<std::uint32_t> reader_waiting;
  std::atomic<std::uint32_t> writer_waiting;
  std::atomic<std::uint32_t> closed;
  // A ring's: the process that sends and the one that receives, each as its pid, its start
  // time and its pid namespace (0: none yet), so that a side waiting for the other notices
  // when that process is gone. (Zero in a segment made before these existed: then unknown.)
  std::atomic<std::int32_t> sender_pid;
  std::atomic<std::int32_t> receiver_pid;
  std::atomic<std::uint64_t> sender_start;
  std::atomic<std::uint64_t> receiver_start;
  std::atomic<std::uint64_t> sender_pid_namespace;
  std::atomic<std::uint64_t> receiver_pid_namespace;
  // A ring's: the CPU each side last worked on (`cpu_tag`, detail/look.hpp; 0: unknown), which
  // tells the other whether looking again before it sleeps can help.
  std::atomic<std::uint32_t> sender_cpu;
  std::atomic<std::uint32_t> receiver_cpu;
};
// Shared between processes: only lock-free atomics are address-free.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
inline constexpr std::uint64_t magic = 0x0172'6f74'6361'7274ULL;  // "tractor\x01" (version 1)
inline constexpr std::uint32_t data_offset = 128;
static_assert(sizeof(header) <= data_offset);

/// "array", "list", "ring" (for messages).
const char* kind_name(std::uint32_t kind);

template <class T>
constexpr std::string_view pretty_type() {
  return __PRETTY_FUNCTION__;
}

/// A stable identity of `T` for the type check at attach: FNV-1a over the compiler's
/// spelling of the type (the same type compiled by the same compiler matches).
template <class T>
constexpr std::uint64_t type_hash() {
  std::uint64_t h = 0xcbf2'9ce4'8422'2325ULL;
  for (const char c : pretty_type<T>()) h = (h ^ static_cast<unsigned char>(c)) * 0x100'0000'01b3ULL;
  return h;
}

}  // namespace shm_detail

/// The prefix of every segment name this library makes, as listed in /dev/shm ("tractor-").
inline constexpr std::string_view shm_name_prefix = "tractor-";

/// `TRACTOR_SHM_GROUP` if it is 8 lowercase hex digits (the start of every segment name made
/// while it is set); nothing otherwise.
std::optional<std::string> shm_group();

/// One mapping of a segment. The creator's mapping owns the name (unlinks it when closed);
/// an attached one only unmaps. Move-only.
class shm_segment {
 public:
  shm_segment() = default;
  shm_segment(shm_segment&& other) noexcept;
  shm_segment& operator=(shm_segment&& other) noexcept;
  shm_segment(const shm_segment&) = delete;
  shm_segment& operator=(const shm_segment&) = delete;
  ~shm_segment() { close(); }

  /// Creates `/tractor-<random>-<key>` sized for `t.capacity` elements of `t.elem_size`
  /// bytes (`t.name` is ignored), readable and writable by this user only, zero-filled.
  static result<shm_segment> create(std::string_view key, shm_token t);

  /// Maps the segment `t` names, checking that it holds what `t` says: `not_a_segment`,
  /// `type_mismatch`, or the system's error (no such segment: `no_such_file_or_directory`).
  /// Read-only mappings fault on a write.
  static result<shm_segment> attach(const shm_token& t, bool writable);

  /// Unmaps; the owner also unlinks the name. Idempotent.
  void close() noexcept;

  [[nodiscard]] bool is_open() const noexcept { return base_ != nullptr; }
  [[nodiscard]] bool owner() const noexcept { return owner_; }
  [[nodiscard]] bool writable() const noexcept { return writable_; }
  [[nodiscard]] const shm_token& token() const noexcept { return token_; }
  [[nodiscard]] shm_detail::header& head() const noexcept { return *static_cast<shm_detail::header*>(base_); }
  [[nodiscard]] std::byte* data() const noexcept { return static_cast<std::byte*>(base_) + shm_detail::data_offset; }

 private:
  shm_segment(void* base, std::size_t size, shm_token t, bool owner, bool writable) noexcept
      : base_(base), size_(size), token_(std::move(t)), owner_(owner), writable_(writable) {}

  void* base_ = nullptr;
  std::size_t size_ = 0;
  shm_token token_;
  bool owner_ = false;
  bool writable_ = false;
};

namespace shm_detail {

/// The token of a `kind` of `capacity` elements of `T` (the name is the segment's to fill).
template <class T>
shm_token token_for(shm_kind kind, std::uint64_t capacity) {
  return {.name = {}, .kind = static_cast<std::uint32_t>(kind), .elem_size = sizeof(T), .type_hash = type_hash<T>(),
          .capacity = capacity};
}

/// Maps the segment `t` names as a `kind` of `T`: `type_mismatch` if the token says otherwise
/// (the segment's header is checked as well).
template <class T>
result<shm_segment> attach_as(const shm_token& t, shm_kind kind, bool writable) {
  shm_token expected = token_for<T>(kind, t.capacity);
  expected.name = t.name;
  if (t.kind != expected.kind || t.elem_size != expected.elem_size || t.type_hash != expected.type_hash) {
    return error(make_error_code(shm_errc::type_mismatch),
                 "the token of " + t.name + " is not that of a " + kind_name(static_cast<std::uint32_t>(kind)) +
                     " of this type");
  }
  return shm_segment::attach(expected, writable);
}

}  // namespace shm_detail

}  // namespace tractor

#if TRACTOR_HEADER_ONLY
#include <tractor/shm/impl/segment.ipp>
#endif
