// Compact binary cereal archives that write straight into a std::string and read from a
// byte span, refusing any length that exceeds the bytes actually left (so a hostile length
// can never make the reader allocate more than the frame it came in).
#pragma once

#include <cereal/cereal.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <string>

namespace tractor::codec::detail {

class binary_output : public cereal::OutputArchive<binary_output, cereal::AllowEmptyClassElision> {
 public:
  explicit binary_output(std::string& out) : OutputArchive(this), out_(&out) {}
  void saveBinary(const void* data, std::size_t size) {
    out_->append(static_cast<const char*>(data), size);
  }
  /// Points a reused archive at another buffer (see `cereal_binary::encode`).
  void retarget(std::string& out) noexcept { out_ = &out; }

 private:
  std::string* out_;
};

class binary_input : public cereal::InputArchive<binary_input, cereal::AllowEmptyClassElision> {
 public:
  explicit binary_input(std::span<const std::byte> in) : InputArchive(this), in_(in) {}
  void loadBinary(void* data, std::size_t size) {
    if (size > in_.size()) throw cereal::Exception("frame ends before its data does");
    std::memcpy(data, in_.data(), size);
    in_ = in_.subspan(size);
  }
  [[nodiscard]] std::size_t remaining() const noexcept { return in_.size(); }
  /// Points a reused archive at other bytes (see `cereal_binary::decode`).
  void retarget(std::span<const std::byte> in) noexcept { in_ = in; }

 private:
  std::span<const std::byte> in_;
};

template <class T>
  requires std::is_arithmetic_v<T>
void CEREAL_SAVE_FUNCTION_NAME(binary_output& ar, const T& t) {
  ar.saveBinary(std::addressof(t), sizeof(t));
}

template <class T>
  requires std::is_arithmetic_v<T> && (!std::is_same_v<T, bool>)
void CEREAL_LOAD_FUNCTION_NAME(binary_input& ar, T& t) {
  ar.loadBinary(std::addressof(t), sizeof(t));
}

// A byte copied into a bool must be 0 or 1: any other value in a bool is undefined behaviour.
inline void CEREAL_LOAD_FUNCTION_NAME(binary_input& ar, bool& b) {
  unsigned char byte = 0;
  ar.loadBinary(&byte, 1);
  if (byte > 1) throw cereal::Exception("a bool that is neither 0 nor 1");
  b = byte == 1;
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(binary_output& ar, const cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(binary_input& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(binary_output& ar, const cereal::SizeTag<T>& t) {
  const auto size = static_cast<std::uint64_t>(t.size);
  ar.saveBinary(&size, sizeof(size));
}

// Every element of a container takes at least one byte here, except elements of empty
// types, which no wire message contains; so a count larger than what is left is a lie.
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(binary_input& ar, cereal::SizeTag<T>& t) {
  std::uint64_t size = 0;
  ar.loadBinary(&size, sizeof(size));
  if (size > ar.remaining()) throw cereal::Exception("length exceeds the frame");
  t.size = static_cast<std::remove_reference_t<T>>(size);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(binary_output& ar, const cereal::BinaryData<T>& bd) {
  ar.saveBinary(bd.data, static_cast<std::size_t>(bd.size));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(binary_input& ar, cereal::BinaryData<T>& bd) {
  ar.loadBinary(bd.data, static_cast<std::size_t>(bd.size));
}

}  // namespace tractor::codec::detail

// cereal pairs input and output archives through these two traits (what its
// CEREAL_SETUP_ARCHIVE_TRAITS macro would declare).
template <>
struct cereal::traits::detail::get_output_from_input<tractor::codec::detail::binary_input> {
  using type = tractor::codec::detail::binary_output;
};
template <>
struct cereal::traits::detail::get_input_from_output<tractor::codec::detail::binary_output> {
  using type = tractor::codec::detail::binary_input;
};
