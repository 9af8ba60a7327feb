#include "maskterial/store/folder_watch.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::store {

FolderWatch::FolderWatch(const std::vector<std::string>& folders) {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) throw Error(std::string("cannot watch folders: ") + std::strerror(errno));
  for (const std::string& folder : folders) {
    const int wd = inotify_add_watch(fd_, folder.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
    if (wd < 0) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      throw file_error(folder, "cannot watch this folder for new images: " + why);
    }
    watches_.emplace_back(wd, folder);
  }
}

FolderWatch::~FolderWatch() { ::close(fd_); }

std::vector<std::string> FolderWatch::wait(int timeout_ms) {
  std::vector<std::string> images;
  pollfd pfd{fd_, POLLIN, 0};
  if (::poll(&pfd, 1, timeout_ms) <= 0) return images;
  alignas(inotify_event) char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n <= 0) break;  // EAGAIN: all read
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->len == 0 || (event->mask & IN_ISDIR)) continue;
      for (const auto& [wd, folder] : watches_) {
        if (wd != event->wd) continue;
        const std::string path = (std::filesystem::path(folder) / event->name).string();
        if (has_image_extension(path)) images.push_back(path);
      }
    }
  }
  return images;
}

}  // namespace maskterial::store
