// The `maskterial` command: sets the idle-thread environment of util/idle_threads.hpp where the user has not,
// then executes the program itself (maskterial-cli, next to this file). libgomp and OpenBLAS read those
// variables only while they load, before any main() of a program linked with them could set them; a launcher
// that links nothing but libc does it for about a millisecond, where a program re-executing itself would load
// its ~300 libraries twice (~0.1 s of CPU here).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "maskterial/util/idle_threads.hpp"

int main(int, char** argv) {
  using namespace maskterial;
  if (!std::getenv(kIdleThreadMarker)) {
    std::string set;  // the variables set here, for `maskterial doctor`
    for (const IdleThreadSetting& setting : kIdleThreadSettings) {
      if (std::getenv(setting.variable) || (setting.user_alternative && std::getenv(setting.user_alternative)))
        continue;
      setenv(setting.variable, setting.value, 1);
      set += (set.empty() ? "" : ",") + std::string(setting.variable);
    }
    setenv(kIdleThreadMarker, set.c_str(), 1);
  }
  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string program = "maskterial-cli";  // on the PATH when /proc is missing
  if (length > 0) {
    const std::string path(self, static_cast<size_t>(length));
    program = path.substr(0, path.rfind('/') + 1) + program;
  }
  execvp(program.c_str(), argv);
  std::fprintf(stderr, "maskterial: cannot start %s: %s\n", program.c_str(), std::strerror(errno));
  return 127;
}
