# weir_detect_command: `weir detect` (agent/app/detect_command.{h,cc}), a library of its own so the
# NAB benchmark driver and tests can link it. Included by agent/app/CMakeLists.txt (and by
# tests/bench/nab when the app does not include it yet).
add_library(weir_detect_command STATIC ${PROJECT_SOURCE_DIR}/agent/app/detect_command.cc)
target_include_directories(weir_detect_command PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(weir_detect_command
  PUBLIC weir_detect weir_codec weir_core CLI11::CLI11
  PRIVATE nlohmann_json::nlohmann_json weir_flags)
