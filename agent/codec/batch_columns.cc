// Column encoders and decoders; see batch_columns.h and BATCH_FORMAT.md.
#include "agent/codec/batch_columns.h"

#include <algorithm>
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

// Values within this many units in the last place of a short decimal count as that decimal:
// data that went through float arithmetic (51.846000000000004) then costs a small residual.
constexpr int64_t kUlpTolerance = 4;

// The decoder's approximation of a value from its scaled integer m.
double Approximate(int64_t m, int k) { return static_cast<double>(m) / kPow10[k]; }

// The integer nearest to v * 10^k when it is below 2^53 (so the double conversion is exact).
bool Scale(double v, int k, int64_t* m) {
  const double scaled = v * kPow10[k];
  if (!(std::fabs(scaled) < kMaxExactInteger)) return false;  // also NaN and inf
  *m = static_cast<int64_t>(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
  return true;
}

// Value bits minus approximation bits, mod 2^64; read as int64 it counts ulps between two
// doubles of the same sign.
uint64_t Residual(double v, double approx) {
  return std::bit_cast<uint64_t>(v) - std::bit_cast<uint64_t>(approx);
}

bool NearDecimal(double v, int k) {
  int64_t m = 0;
  if (!Scale(v, k, &m)) return false;
  const auto r = static_cast<int64_t>(Residual(v, Approximate(m, k)));
  return r >= -kUlpTolerance && r <= kUlpTolerance;
}

// The fewest decimals k for which v is near m / 10^k, or kMaxValueDecimals + 1 when none.
// `hint` (the previous value's answer) is tried first: neighbours usually share their scale.
int MinimalDecimals(double v, int hint) {
  if (NearDecimal(v, hint) && (hint == 0 || !NearDecimal(v, hint - 1))) return hint;
  for (int k = 0; k <= kMaxValueDecimals; ++k) {
    if (NearDecimal(v, k)) return k;
  }
  return kMaxValueDecimals + 1;
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

int ChooseDecimalScale(std::span<const Reading> readings) {
  // histogram[k]: values whose fewest decimals is k; the last bucket holds misfits.
  int histogram[kMaxValueDecimals + 2] = {};
  int hint = 0;
  for (const Reading& r : readings) {
    const int k = MinimalDecimals(r.value, hint);
    ++histogram[k];
    if (k <= kMaxValueDecimals) hint = k;
  }
  // Cost model in bits: every decimal adds log2(10) to each delta; a value that needs more
  // decimals than the scale costs a residual of about 64 bits.
  const double n = static_cast<double>(readings.size());
  int best = 0;
  double best_cost = 0;
  double misfits = n;
  for (int k = 0; k <= kMaxValueDecimals; ++k) {
    misfits -= histogram[k];
    const double cost = n * k * 3.32 + misfits * 64;
    if (k == 0 || cost < best_cost) {
      best = k;
      best_cost = cost;
    }
  }
  // Mostly misfits (noise-like bit patterns): the XOR planes are smaller.
  double best_misfits = n;
  for (int k = 0; k <= best; ++k) best_misfits -= histogram[k];
  return best_misfits * 4 > n ? -1 : best;
}

// Per sensor, m is delta-coded; a value that cannot be scaled (NaN, inf, too large) repeats the
// previous m and lives entirely in its residual.
void EncodeDecimalValues(std::span<const Reading> readings, std::span<const uint32_t> index,
                         size_t num_sensors, int decimals, std::vector<uint64_t>* deltas,
                         std::string* residuals) {
  std::vector<int64_t> prev(num_sensors, 0);
  deltas->resize(readings.size());
  bool any_residual = false;
  for (size_t i = 0; i < readings.size(); ++i) {
    const uint32_t s = index[i];
    int64_t m = prev[s];
    const double v = readings[i].value;
    if (!Scale(v, decimals, &m)) m = prev[s];
    // m and prev are below 2^53 in magnitude, so the difference cannot overflow.
    (*deltas)[i] = ZigZag(m - prev[s]);
    prev[s] = m;
    const uint64_t r = Residual(v, Approximate(m, decimals));
    any_residual |= r != 0;
    PutVarint(residuals, ZigZag(static_cast<int64_t>(r)));
  }
  if (!any_residual) residuals->clear();
}

Status DecodeDecimalValues(std::span<const uint64_t> deltas, std::string_view residuals,
                           std::span<const uint32_t> index, size_t num_sensors, int decimals,
                           std::span<double> out) {
  if (decimals < 0 || decimals > kMaxValueDecimals) return Malformed("values", "bad decimals");
  if (deltas.size() != out.size()) return Malformed("values", "wrong count");
  std::vector<uint64_t> prev(num_sensors, 0);
  ByteReader residual_reader(residuals);
  const bool has_residuals = !residuals.empty();
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t s = index[i];
    prev[s] += static_cast<uint64_t>(UnZigZag(deltas[i]));
    // Corrupt input may push m past 2^53; the conversion is still defined, just inexact.
    uint64_t bits = std::bit_cast<uint64_t>(Approximate(static_cast<int64_t>(prev[s]), decimals));
    if (has_residuals) {
      uint64_t raw = 0;
      if (!residual_reader.GetVarint(&raw)) return Malformed("value_residuals", "truncated");
      bits += static_cast<uint64_t>(UnZigZag(raw));
    }
    out[i] = std::bit_cast<double>(bits);
  }
  if (!residual_reader.empty()) return Malformed("value_residuals", "trailing bytes");
  return Status::Ok();
}

int RiceParameter(std::span<const uint64_t> ints) {
  if (ints.empty()) return 0;
  // Rice coding's best parameter is about log2(mean); two less leaves small quotients whose
  // skewed distribution zstd's entropy coder still exploits.
  long double sum = 0;
  for (uint64_t u : ints) sum += static_cast<long double>(u);
  const auto mean = static_cast<uint64_t>(sum / static_cast<long double>(ints.size()));
  return std::max(0, static_cast<int>(std::bit_width(mean)) - 2);
}

void WriteInts(std::span<const uint64_t> ints, IntLayout layout, int rice_bits, std::string* out) {
  switch (layout) {
    case IntLayout::kVarint:
      for (uint64_t u : ints) PutVarint(out, u);
      return;
    case IntLayout::kBytePlanes: {
      uint64_t all = 0;
      for (uint64_t u : ints) all |= u;
      const int width = (static_cast<int>(std::bit_width(all)) + 7) / 8;
      out->push_back(static_cast<char>(width));
      const size_t base = out->size();
      out->resize(base + static_cast<size_t>(width) * ints.size());
      char* planes = out->data() + base;
      for (int p = 0; p < width; ++p) {
        const int shift = 8 * (width - 1 - p);
        for (size_t i = 0; i < ints.size(); ++i) *planes++ = static_cast<char>(ints[i] >> shift);
      }
      return;
    }
    case IntLayout::kRice: {
      out->push_back(static_cast<char>(rice_bits));
      for (uint64_t u : ints) PutVarint(out, rice_bits == 64 ? 0 : u >> rice_bits);
      // Remainders as one little-endian bit stream, LSB first.
      BitWriter writer(out);
      for (uint64_t u : ints) writer.Put(u, rice_bits);
      writer.Flush();
      return;
    }
  }
}

Status ReadInts(std::string_view in, IntLayout layout, size_t count, std::string_view column,
                std::vector<uint64_t>* out) {
  out->resize(count);
  ByteReader reader(in);
  switch (layout) {
    case IntLayout::kVarint:
      for (size_t i = 0; i < count; ++i) {
        if (!reader.GetVarint(&(*out)[i])) return Malformed(column, "truncated");
      }
      break;
    case IntLayout::kBytePlanes: {
      uint8_t width = 0;
      if (!reader.GetByte(&width) || width > 8) return Malformed(column, "bad plane width");
      if (reader.remaining() != size_t{width} * count) {
        return Malformed(column, "byte planes of the wrong size");
      }
      const auto* planes = reinterpret_cast<const uint8_t*>(in.data()) + 1;
      for (size_t i = 0; i < count; ++i) {
        uint64_t u = 0;
        for (size_t p = 0; p < width; ++p) u = (u << 8) | planes[p * count + i];
        (*out)[i] = u;
      }
      return Status::Ok();
    }
    case IntLayout::kRice: {
      uint8_t bits = 0;
      if (!reader.GetByte(&bits) || bits > 64) return Malformed(column, "bad Rice parameter");
      for (size_t i = 0; i < count; ++i) {
        uint64_t q = 0;
        if (!reader.GetVarint(&q)) return Malformed(column, "truncated quotients");
        if (bits == 64 ? q != 0 : (bits > 0 && (q >> (64 - bits)) != 0)) {
          return Malformed(column, "quotient overflows 64 bits");
        }
        (*out)[i] = bits == 64 ? 0 : q << bits;
      }
      const size_t stream_bytes = (count * bits + 7) / 8;
      if (reader.remaining() != stream_bytes) return Malformed(column, "remainders of wrong size");
      const auto* p = reinterpret_cast<const uint8_t*>(in.data()) + (in.size() - stream_bytes);
      BitReader bit_reader(p, p + stream_bytes);
      for (size_t i = 0; i < count; ++i) (*out)[i] |= bit_reader.Get(bits);
      return Status::Ok();
    }
    default:
      return Malformed(column, "unknown integer layout");
  }
  if (!reader.empty()) return Malformed(column, "trailing bytes");
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
