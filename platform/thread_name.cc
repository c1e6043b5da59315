#include "platform/thread_name.h"

#ifdef __linux__
#include <pthread.h>
#endif

#include "agent/core/worker.h"

namespace weir::platform {

void NameCurrentThread(const std::string& name) {
#ifdef __linux__
  const std::string shortened = name.substr(0, 15);
  pthread_setname_np(pthread_self(), shortened.c_str());
#else
  (void)name;
#endif
}

void UseKernelThreadNames() { Worker::SetThreadStartHook(&NameCurrentThread); }

}  // namespace weir::platform
