#pragma once
// One exception type for everything a user can cause (bad files, bad options); its message always names the
// file or value at fault so the CLI can print it as is and carry on with the rest of a batch.
#include <stdexcept>
#include <string>

namespace maskterial {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "<path>: <problem>" — the form every file-related message takes.
inline Error file_error(const std::string& path, const std::string& problem) {
  return Error(path + ": " + problem);
}

}  // namespace maskterial
