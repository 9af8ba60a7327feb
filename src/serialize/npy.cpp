#include "maskterial/serialize/npy.hpp"

#include <cstring>
#include <regex>

#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::npy {
namespace {

const char kMagic[] = "\x93NUMPY";

struct Header {
  torch::Dtype dtype = torch::kFloat32;
  size_t item_size = 4;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

Header parse_header(const std::string& text, const std::string& source) {
  const auto fail = [&](const std::string& what) { return file_error(source, "bad .npy header: " + what); };
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(R"('descr'\s*:\s*'([<>|=])([a-z])(\d+)')")))
    throw fail("no 'descr'");
  Header h;
  const std::string order = m[1], kind = m[2];
  const int size = std::stoi(m[3]);
  if (order == ">" && size > 1) throw fail("big-endian data is not supported");
  if (kind == "f" && size == 4) h.dtype = torch::kFloat32;
  else if (kind == "f" && size == 8) h.dtype = torch::kFloat64;
  else if (kind == "i" && size == 8) h.dtype = torch::kInt64;
  else if (kind == "i" && size == 4) h.dtype = torch::kInt32;
  else if (kind == "u" && size == 1) h.dtype = torch::kUInt8;
  else throw fail("unsupported dtype " + std::string(m[0]));
  h.item_size = static_cast<size_t>(size);
  if (!std::regex_search(text, m, std::regex(R"('fortran_order'\s*:\s*(True|False))"))) throw fail("no 'fortran_order'");
  h.fortran_order = m[1] == "True";
  if (!std::regex_search(text, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) throw fail("no 'shape'");
  const std::string dims = m[1];
  const std::regex number(R"(\d+)");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it)
    h.shape.push_back(std::stoll(it->str()));
  return h;
}

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
  const Header h = parse_header(bytes.substr(offset, header_len), source);
  offset += header_len;
  int64_t count = 1;
  for (int64_t d : h.shape) count *= d;
  if (bytes.size() - offset < static_cast<size_t>(count) * h.item_size)
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
