#pragma once
// Thread pools that sleep when they have nothing to do. libtorch's OpenMP pool (libgomp) spins 300,000 pause
// loops after every parallel region by default, and OpenBLAS's pthread pool spins with sched_yield for 2^28
// cycles (~0.1 s) after every threaded call: on a shared 2-core machine that CPU is taken from the work next
// door (the other worker, the JPEG decode, another process). Both libraries read these settings only while
// they load, before main(), so the `maskterial` command is a small launcher (tools/launcher/maskterial.cpp) that
// sets them, unless the user has, and then executes the program (maskterial-cli).
#include <string>

namespace maskterial {

struct IdleThreadSetting {
  const char* variable;  // environment variable the library reads when it loads
  const char* value;     // maskterial's default
  const char* user_alternative;  // another variable the user may have set instead (nullptr: none)
};

inline constexpr IdleThreadSetting kIdleThreadSettings[] = {
    {"OMP_WAIT_POLICY", "PASSIVE", "GOMP_SPINCOUNT"},  // idle OpenMP threads sleep at once
    {"OPENBLAS_THREAD_TIMEOUT", "4", nullptr},         // OpenBLAS threads sleep after 2^4 cycles (its minimum)
};

// Set by the launcher: the variables of kIdleThreadSettings it set (comma-separated, maybe none). When it is
// already set the launcher sets nothing: MASKTERIAL_IDLE_THREADS= (empty) starts with the libraries' defaults.
inline constexpr char kIdleThreadMarker[] = "MASKTERIAL_IDLE_THREADS";

// One line per setting for `maskterial doctor`: its value and who chose it, and OpenBLAS's timeout as it
// read it.
std::string idle_thread_report();

}  // namespace maskterial
