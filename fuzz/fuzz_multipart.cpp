// libFuzzer target for the server's handling of request forms: the capped body reader (read_capped) fed the
// parts httplib's multipart parser hands on (name, file name, content type, content in chunks), the text,
// number and flag fields the routes read, and the model files an upload turns into (model_files_of, names
// checked by check_file_name / check_model_name). httplib's byte-level parser itself is the system's shared
// library, not instrumented here.
//
// Input: byte 0 = mode (bit 0: multipart, bit 1: JSON body), byte 1 = body cap in 16-byte steps, then records
// separated by 0xFF: "name \x01 filename \x01 content type \x01 content", the content in chunks separated by
// 0xFE; a record starting with '?' is a query parameter "key=value". Any input must end in a result or an
// HttpError with the status the server answers (400, 413, 415): never another exception or a crash.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "http_helpers.hpp"
#include "maskterial/serve/http_error.hpp"
#include "upload_form.hpp"

namespace serve = maskterial::serve;

namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out(1);
  for (char c : text) {
    if (c == separator)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

struct Part {
  httplib::MultipartFormData header;
  std::vector<std::string> chunks;
};

void check_status(const serve::HttpError& e, std::initializer_list<int> allowed) {
  for (int status : allowed)
    if (e.status() == status) return;
  __builtin_trap();
}

// Every route reads its fields this way: an error is a 400 naming the field, a number is inside its range.
void read_fields(const httplib::Request& req, const std::string& name) {
  try {
    serve::text_field(req, name, "fallback");
    serve::flag_field(req, name);
    const double v = serve::number_field(req, name, 0.5, -1e3, 1e3);
    if (!std::isfinite(v) || v < -1e3 || v > 1e3) __builtin_trap();
  } catch (const serve::HttpError& e) {
    check_status(e, {400});
  }
}

// A name that check_*_name accepts is safe as a file name inside a model directory.
void check_name(const std::string& name, bool file) {
  try {
    file ? serve::check_file_name(name) : serve::check_model_name(name);
  } catch (const serve::HttpError& e) {
    check_status(e, {400});
    return;
  }
  if (name.empty() || name.size() > (file ? 128u : 64u) || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos || name.find("..") != std::string::npos || name[0] == '.')
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool multipart = data[0] & 1;
  const size_t cap = size_t{data[1]} * 16;
  httplib::Request req;
  req.set_header("Content-Type", multipart ? "multipart/form-data; boundary=fuzz"
                                           : (data[0] & 2 ? "application/json" : "text/plain"));
  std::vector<Part> parts;
  std::vector<std::string> body_chunks;
  for (const std::string& record : split(std::string(reinterpret_cast<const char*>(data) + 2, size - 2), '\xff')) {
    if (!record.empty() && record[0] == '?') {
      const size_t eq = record.find('=');
      req.params.emplace(record.substr(1, eq == std::string::npos ? std::string::npos : eq - 1),
                         eq == std::string::npos ? "" : record.substr(eq + 1));
      continue;
    }
    if (!multipart) {
      for (std::string& chunk : split(record, '\xfe')) body_chunks.push_back(std::move(chunk));
      continue;
    }
    const std::vector<std::string> fields = split(record, '\x01');
    Part part;
    part.header.name = fields[0];
    if (fields.size() > 1) part.header.filename = fields[1];
    if (fields.size() > 2) part.header.content_type = fields[2];
    if (fields.size() > 3) part.chunks = split(fields[3], '\xfe');
    parts.push_back(std::move(part));
  }

  const httplib::ContentReader reader(
      [&](const httplib::ContentReceiver& receive) {
        for (const std::string& chunk : body_chunks)
          if (!receive(chunk.data(), chunk.size())) return false;
        return true;
      },
      [&](const httplib::MultipartContentHeader& header, const httplib::ContentReceiver& receive) {
        for (const Part& part : parts) {
          if (!header(part.header)) return false;
          for (const std::string& chunk : part.chunks)
            if (!receive(chunk.data(), chunk.size())) return false;
        }
        return true;
      });

  httplib::Request form;
  try {
    form = serve::read_capped(req, reader, cap, "the fuzz body");
  } catch (const serve::HttpError& e) {
    check_status(e, {413});
    return 0;
  }
  size_t kept = form.body.size();
  for (const auto& [name, part] : form.files) kept += part.content.size();
  if (kept > cap) __builtin_trap();  // the cap holds, however the body was cut

  for (const Part& part : parts) {
    read_fields(form, part.header.name);
    check_name(part.header.name, true);
    check_name(part.header.filename, false);
  }
  for (const auto& [key, value] : req.params) read_fields(form, key);
  try {
    for (const auto& [file_name, content] : serve::model_files_of(form)) check_name(file_name, true);
  } catch (const serve::HttpError& e) {
    check_status(e, {415});
  }
  return 0;
}
