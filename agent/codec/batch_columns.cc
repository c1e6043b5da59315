// Column encoders and decoders; see batch_columns.h and BATCH_FORMAT.md.
#include "agent/codec/batch_columns.h"

#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "agent/codec/batch_bytes.h"

namespace weir::codec::internal {
namespace {

constexpr double kPow10[kMaxValueDecimals + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                                  1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                                  1e14, 1e15, 1e16, 1e17, 1e18};

// Below 2^53 every integer is an exact double, so m -> double is exact on both sides.
constexpr double kMaxExactInteger = 9007199254740992.0;

Status Malformed(std::string_view column, std::string_view what) {
  return DataLoss("batch column '" + std::string(column) + "': " + std::string(what));
}

// Sets *m when v == m / 10^k bit for bit. The decoder computes exactly that expression, so this
// check is what makes the decimal encoding lossless (it rejects -0.0, NaN, inf and long tails).
bool FitsDecimal(double v, int k, int64_t* m) {
  const double scaled = v * kPow10[k];
  if (!(std::fabs(scaled) < kMaxExactInteger)) return false;
  const auto rounded = static_cast<int64_t>(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
  const double back = static_cast<double>(rounded) / kPow10[k];
  if (std::bit_cast<uint64_t>(back) != std::bit_cast<uint64_t>(v)) return false;
  *m = rounded;
  return true;
}

}  // namespace

void BuildSensorIndex(std::span<const Reading> readings, std::vector<std::string_view>* ids,
                      std::vector<uint32_t>* index) {
  ids->clear();
  index->resize(readings.size());
  std::unordered_map<std::string_view, uint32_t> positions;
  std::string_view last;
  uint32_t last_index = 0;
  for (size_t i = 0; i < readings.size(); ++i) {
    const std::string_view id = readings[i].sensor;
    // Fast path: consecutive readings of one sensor are the common case.
    if (i > 0 && id == last) {
      (*index)[i] = last_index;
      continue;
    }
    auto [it, inserted] = positions.try_emplace(id, static_cast<uint32_t>(ids->size()));
    if (inserted) ids->push_back(id);
    last = id;
    last_index = it->second;
    (*index)[i] = last_index;
  }
}

void EncodeRuns(std::span<const uint32_t> symbols, std::string* out) {
  size_t i = 0;
  while (i < symbols.size()) {
    size_t j = i + 1;
    while (j < symbols.size() && symbols[j] == symbols[i]) ++j;
    PutVarint(out, symbols[i]);
    PutVarint(out, j - i);
    i = j;
  }
}

Status DecodeRuns(std::string_view in, size_t count, uint64_t limit, std::string_view column,
                  std::vector<uint32_t>* out) {
  out->clear();
  out->reserve(count);
  ByteReader reader(in);
  while (out->size() < count) {
    uint64_t symbol = 0, run = 0;
    if (!reader.GetVarint(&symbol) || !reader.GetVarint(&run)) {
      return Malformed(column, "truncated run");
    }
    if (symbol >= limit) return Malformed(column, "symbol out of range");
    if (run == 0 || run > count - out->size()) return Malformed(column, "bad run length");
    out->insert(out->end(), run, static_cast<uint32_t>(symbol));
  }
  if (!reader.empty()) return Malformed(column, "trailing bytes");
  return Status::Ok();
}

uint64_t CommonTimeStep(std::span<const Reading> readings, std::span<const uint32_t> index,
                        size_t num_sensors) {
  std::vector<int64_t> prev(num_sensors);
  std::vector<uint8_t> seen(num_sensors, 0);
  uint64_t step = 0;
  for (size_t i = 0; i < readings.size(); ++i) {
    const uint32_t s = index[i];
    const int64_t t = readings[i].time_us;
    if (seen[s]) {
      const uint64_t delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(prev[s]);
      // Magnitude of the delta read as a signed int64 (two's complement negation for < 0).
      const uint64_t magnitude = static_cast<int64_t>(delta) < 0 ? 0 - delta : delta;
      step = std::gcd(step, magnitude);
      if (step == 1) return 1;
    }
    seen[s] = 1;
    prev[s] = t;
  }
  if (step == 0 || step > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return 1;
  return step;
}

// Per sensor: the first time as zigzag(t); after it, zigzag(q - previous q) with
// q = (t - previous t) / step. All arithmetic wraps mod 2^64, so every int64 round-trips.
void EncodeTimestamps(std::span<const Reading> readings, std::span<const uint32_t> index,
                      size_t num_sensors, uint64_t step, std::string* out) {
  std::vector<uint64_t> prev_t(num_sensors), prev_q(num_sensors);
  std::vector<uint8_t> seen(num_sensors, 0);
  const auto signed_step = static_cast<int64_t>(step);
  for (size_t i = 0; i < readings.size(); ++i) {
    const uint32_t s = index[i];
    const auto t = static_cast<uint64_t>(readings[i].time_us);
    if (!seen[s]) {
      seen[s] = 1;
      PutVarint(out, ZigZag(static_cast<int64_t>(t)));
    } else {
      const auto q = static_cast<uint64_t>(static_cast<int64_t>(t - prev_t[s]) / signed_step);
      PutVarint(out, ZigZag(static_cast<int64_t>(q - prev_q[s])));
      prev_q[s] = q;
    }
    prev_t[s] = t;
  }
}

Status DecodeTimestamps(std::string_view in, std::span<const uint32_t> index, size_t num_sensors,
                        uint64_t step, std::span<int64_t> out) {
  std::vector<uint64_t> prev_t(num_sensors), prev_q(num_sensors);
  std::vector<uint8_t> seen(num_sensors, 0);
  ByteReader reader(in);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t s = index[i];
    uint64_t raw = 0;
    if (!reader.GetVarint(&raw)) return Malformed("timestamps", "truncated");
    const auto v = static_cast<uint64_t>(UnZigZag(raw));
    if (!seen[s]) {
      seen[s] = 1;
      prev_t[s] = v;
    } else {
      prev_q[s] += v;
      prev_t[s] += prev_q[s] * step;
    }
    out[i] = static_cast<int64_t>(prev_t[s]);
  }
  if (!reader.empty()) return Malformed("timestamps", "trailing bytes");
  return Status::Ok();
}

int FindDecimalScale(std::span<const Reading> readings) {
  int k = 0;
  int64_t m = 0;
  for (const Reading& r : readings) {
    while (!FitsDecimal(r.value, k, &m)) {
      if (++k > kMaxValueDecimals) return -1;
    }
  }
  // Values accepted at a smaller k may overflow 2^53 at the final one; check them all again.
  for (const Reading& r : readings) {
    if (!FitsDecimal(r.value, k, &m)) return -1;
  }
  return k;
}

void EncodeDecimalValues(std::span<const Reading> readings, std::span<const uint32_t> index,
                         size_t num_sensors, int decimals, std::string* out) {
  std::vector<uint64_t> prev(num_sensors, 0);
  for (size_t i = 0; i < readings.size(); ++i) {
    int64_t m = 0;
    const bool fits = FitsDecimal(readings[i].value, decimals, &m);
    (void)fits;  // FindDecimalScale checked every value at this scale.
    const uint32_t s = index[i];
    PutVarint(out, ZigZag(static_cast<int64_t>(static_cast<uint64_t>(m) - prev[s])));
    prev[s] = static_cast<uint64_t>(m);
  }
}

Status DecodeDecimalValues(std::string_view in, std::span<const uint32_t> index, size_t num_sensors,
                           int decimals, std::span<double> out) {
  if (decimals < 0 || decimals > kMaxValueDecimals) return Malformed("values", "bad decimals");
  std::vector<uint64_t> prev(num_sensors, 0);
  ByteReader reader(in);
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t raw = 0;
    if (!reader.GetVarint(&raw)) return Malformed("values", "truncated");
    const uint32_t s = index[i];
    prev[s] += static_cast<uint64_t>(UnZigZag(raw));
    out[i] = static_cast<double>(static_cast<int64_t>(prev[s])) / kPow10[decimals];
  }
  if (!reader.empty()) return Malformed("values", "trailing bytes");
  return Status::Ok();
}

// Plane p (0 = most significant) holds byte p of every XORed word, so the mostly-zero high
// bytes of slowly changing values form long runs for zstd.
void EncodeXorValues(std::span<const Reading> readings, std::span<const uint32_t> index,
                     size_t num_sensors, std::string* out) {
  const size_t n = readings.size();
  const size_t base = out->size();
  out->resize(base + 8 * n);
  char* planes = out->data() + base;
  std::vector<uint64_t> prev(num_sensors, 0);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t s = index[i];
    const auto bits = std::bit_cast<uint64_t>(readings[i].value);
    const uint64_t x = bits ^ prev[s];
    prev[s] = bits;
    for (size_t p = 0; p < 8; ++p) {
      planes[p * n + i] = static_cast<char>(x >> (56 - 8 * p));
    }
  }
}

Status DecodeXorValues(std::string_view in, std::span<const uint32_t> index, size_t num_sensors,
                       std::span<double> out) {
  const size_t n = out.size();
  if (in.size() != 8 * n) return Malformed("values", "XOR planes of the wrong size");
  const auto* planes = reinterpret_cast<const uint8_t*>(in.data());
  std::vector<uint64_t> prev(num_sensors, 0);
  for (size_t i = 0; i < n; ++i) {
    uint64_t x = 0;
    for (size_t p = 0; p < 8; ++p) x = (x << 8) | planes[p * n + i];
    const uint32_t s = index[i];
    prev[s] ^= x;
    out[i] = std::bit_cast<double>(prev[s]);
  }
  return Status::Ok();
}

}  // namespace weir::codec::internal
