#include "upload_form.hpp"

#include <cctype>
#include <cstdio>

#include "maskterial/serve/http_error.hpp"

namespace maskterial::serve {
namespace {

// A client-chosen name as an error message may show it: control bytes (a NUL would end the message) as \xNN,
// at most 100 bytes of it.
std::string printable(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size() && i < 100; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else {
      char code[5];
      std::snprintf(code, sizeof code, "\\x%02x", c);
      out += code;
    }
  }
  return name.size() > 100 ? out + "..." : out;
}

void check_name(const std::string& name, size_t max_length, const char* what) {
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  };
  bool ok = !name.empty() && name.size() <= max_length && name.find("..") == std::string::npos &&
            std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) ok = ok && allowed(c);
  if (!ok)
    throw HttpError(400, std::string("invalid ") + what + " '" + printable(name) + "': use 1-" + std::to_string(max_length) +
                             " characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, no '..'");
}

}  // namespace

void check_model_name(const std::string& name) { check_name(name, 64, "model name"); }
void check_file_name(const std::string& name) { check_name(name, 128, "file name"); }

ModelFiles model_files_of(httplib::Request& req) {
  ModelFiles files;
  if (req.is_multipart_form_data()) {
    for (auto& [field, part] : req.files)
      if (field != "overwrite") files.emplace_back(field, std::move(part.content));
  } else if (req.get_header_value("Content-Type").rfind("application/json", 0) == 0) {
    files.emplace_back("gmm.json", std::move(req.body));
  } else {
    throw HttpError(415, "upload a model as multipart/form-data (one field per file, named like the file) or "
                         "a 2DMatGMM parameter file as application/json");
  }
  return files;
}

}  // namespace maskterial::serve
