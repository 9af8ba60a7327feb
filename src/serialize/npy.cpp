#include "maskterial/serialize/npy.hpp"

#include <cstring>
#include <cctype>
#include <tuple>
#include <utility>
#include <vector>

#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::npy {
namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMaxHeader = 65535;  // what format 1.0 can hold; numpy writes a few hundred bytes

struct Header {
  torch::Dtype dtype = torch::kFloat32;
  size_t item_size = 4;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
// Read by a single forward scan (no regex: a long shape string made std::regex overflow the stack).
class HeaderScanner {
 public:
  HeaderScanner(const std::string& text, const std::string& source) : t_(text), source_(source) {}

  Header parse() {
    std::string descr;
    bool have_descr = false, have_order = false, have_shape = false;
    Header h;
    expect('{');
    while (!next_is('}')) {
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        h.shape = shape();
        have_shape = true;
      } else {
        throw fail("unexpected key '" + key + "'");
      }
      if (!next_is('}')) expect(',');
    }
    if (!have_descr) throw fail("no 'descr'");
    if (!have_order) throw fail("no 'fortran_order'");
    if (!have_shape) throw fail("no 'shape'");
    set_dtype(descr, h);
    return h;
  }

 private:
  Error fail(const std::string& what) const { return file_error(source_, "bad .npy header: " + what); }
  void skip_space() {
    while (at_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[at_]))) ++at_;
  }
  bool next_is(char c) {
    skip_space();
    return at_ < t_.size() && t_[at_] == c;
  }
  void expect(char c) {
    if (!next_is(c)) throw fail(std::string("expected '") + c + "' at offset " + std::to_string(at_));
    ++at_;
  }
  std::string quoted() {
    skip_space();
    if (at_ >= t_.size() || (t_[at_] != '\'' && t_[at_] != '"')) throw fail("expected a quoted string");
    const char quote = t_[at_++];
    const size_t end = t_.find(quote, at_);
    if (end == std::string::npos) throw fail("unterminated string");
    std::string s = t_.substr(at_, end - at_);
    at_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}})
      if (t_.compare(at_, std::strlen(word), word) == 0) {
        at_ += std::strlen(word);
        return value;
      }
    throw fail("'fortran_order' must be True or False");
  }
  std::vector<int64_t> shape() {
    constexpr size_t kMaxDims = 32;
    constexpr int64_t kMaxDim = int64_t{1} << 40;
    std::vector<int64_t> dims;
    expect('(');
    while (!next_is(')')) {
      int64_t d = 0;
      const size_t start = at_;
      while (at_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[at_]))) {
        d = d * 10 + (t_[at_++] - '0');
        if (d > kMaxDim) throw fail("dimension too large");
      }
      if (at_ == start) throw fail("'shape' must be a tuple of non-negative integers");
      if (dims.size() == kMaxDims) throw fail("more than " + std::to_string(kMaxDims) + " dimensions");
      dims.push_back(d);
      if (!next_is(')')) expect(',');
    }
    expect(')');
    return dims;
  }
  void set_dtype(const std::string& descr, Header& h) const {
    if (descr.size() < 3 || std::string("<>|=").find(descr[0]) == std::string::npos) throw fail("unsupported dtype " + descr);
    const char kind = descr[1];
    const std::string size = descr.substr(2);
    if (descr[0] == '>' && size != "1") throw fail("big-endian data is not supported");
    static const std::vector<std::tuple<char, std::string, torch::Dtype, size_t>> kTypes = {
        {'f', "4", torch::kFloat32, 4}, {'f', "8", torch::kFloat64, 8}, {'i', "8", torch::kInt64, 8},
        {'i', "4", torch::kInt32, 4},   {'u', "1", torch::kUInt8, 1}};
    for (const auto& [k, s, dtype, item_size] : kTypes)
      if (k == kind && s == size) {
        h.dtype = dtype;
        h.item_size = item_size;
        return;
      }
    throw fail("unsupported dtype " + descr);
  }

  const std::string& t_;
  const std::string& source_;
  size_t at_ = 0;
};

}  // namespace

torch::Tensor parse(const std::string& bytes, const std::string& source) {
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) throw file_error(source, "not a .npy file");
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw file_error(source, "truncated .npy header");
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(bytes[8 + i]);
    offset = 12;
  } else {
    throw file_error(source, "unsupported .npy version " + std::to_string(major));
  }
  if (offset + header_len > bytes.size()) throw file_error(source, "truncated .npy header");
  if (header_len > kMaxHeader) throw file_error(source, "bad .npy header: longer than " + std::to_string(kMaxHeader) + " bytes");
  const std::string header_text = bytes.substr(offset, header_len);
  const Header h = HeaderScanner(header_text, source).parse();
  offset += header_len;
  int64_t count = 1;
  for (int64_t d : h.shape)
    if (__builtin_mul_overflow(count, d, &count)) throw file_error(source, "bad .npy header: shape too large");
  if (static_cast<uint64_t>(count) > (bytes.size() - offset) / h.item_size)
    throw file_error(source, "truncated .npy data: expected " + std::to_string(count) + " values");
  torch::Tensor flat = torch::empty({count}, torch::TensorOptions().dtype(h.dtype));
  std::memcpy(flat.data_ptr(), bytes.data() + offset, static_cast<size_t>(count) * h.item_size);
  if (!h.fortran_order) return flat.reshape(h.shape);
  // Fortran order: the reversed shape in C order, transposed back.
  std::vector<int64_t> reversed(h.shape.rbegin(), h.shape.rend());
  std::vector<int64_t> dims;
  for (int64_t i = static_cast<int64_t>(h.shape.size()) - 1; i >= 0; --i) dims.push_back(i);
  return flat.reshape(reversed).permute(dims).contiguous();
}

torch::Tensor load(const std::string& path) { return parse(read_file(path), path); }

std::string serialize(const torch::Tensor& tensor) {
  const torch::Tensor t = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  std::string shape;
  for (int64_t d : t.sizes()) shape += std::to_string(d) + ", ";
  if (t.dim() > 1) shape.resize(shape.size() - 2);
  if (t.dim() == 1) shape.resize(shape.size() - 1);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Pad with spaces so data starts on a 64-byte boundary; the header ends with a newline.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out(kMagic, 6);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * sizeof(float));
  return out;
}

void save(const std::string& path, const torch::Tensor& tensor) { write_file_atomic(path, serialize(tensor)); }

}  // namespace maskterial::npy
