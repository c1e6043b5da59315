// Thread names the kernel shows (top -H, /proc/<pid>/task/*/comm, gdb, perf): core's Worker
// names its threads through a hook (core/worker.h) and this installs the Linux one.
#pragma once

#include <string>

namespace weir::platform {

// Names the calling thread. The kernel keeps 15 characters; longer names are truncated (the
// call would fail otherwise). No-op where the OS has no thread names.
void NameCurrentThread(const std::string& name);

// Makes every Worker started from now on name its thread with NameCurrentThread.
void UseKernelThreadNames();

}  // namespace weir::platform
