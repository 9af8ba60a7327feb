#pragma once
// New images in folders, as a microscope writes them (inotify): a file counts once it is complete, i.e. when
// its writer closes it (IN_CLOSE_WRITE) or it is moved into the folder whole (IN_MOVED_TO).
#include <string>
#include <vector>

namespace maskterial::store {

class FolderWatch {
 public:
  // Starts watching at once, so nothing written after the constructor is missed. Throws Error naming a folder
  // that cannot be watched.
  explicit FolderWatch(const std::vector<std::string>& folders);
  ~FolderWatch();
  FolderWatch(const FolderWatch&) = delete;
  FolderWatch& operator=(const FolderWatch&) = delete;

  // The image files completed since the last call (full paths), waiting up to timeout_ms for the first.
  std::vector<std::string> wait(int timeout_ms);

 private:
  int fd_ = -1;
  std::vector<std::pair<int, std::string>> watches_;  // watch descriptor, folder
};

}  // namespace maskterial::store
