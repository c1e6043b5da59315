// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the log's rows
// (FORMAT.md "Row checksum") and of the intake journal's entries (FORMAT.md "Intake journal").
// A byte-wise table: ~1 ns per byte, far below the cost of the I/O it guards.
// Thread-safe (no state).
#pragma once

#include <cstddef>
#include <cstdint>

namespace weir::store {

// Start value of a running checksum; finish with Crc32cFinish.
inline constexpr uint32_t kCrc32cInit = 0xffffffffu;

// Feeds `n` bytes into a running checksum and returns the new running value.
uint32_t Crc32cUpdate(uint32_t crc, const void* data, size_t n);
// Feeds `v` as 8 bytes little-endian.
uint32_t Crc32cUpdateU64(uint32_t crc, uint64_t v);
// The final checksum of a running value.
inline uint32_t Crc32cFinish(uint32_t crc) { return crc ^ 0xffffffffu; }

}  // namespace weir::store
