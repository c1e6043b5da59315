// The upstream envelope codec; see envelope_codec.h and ENVELOPE_FORMAT.md.
#include "agent/codec/envelope_codec.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <utility>

#include "agent/codec/batch_codec.h"
#include "agent/codec/defect_codec.h"
#include "agent/codec/timestamp.h"
#include "google/protobuf/stubs/common.h"  // GOOGLE_PROTOBUF_VERSION
#include "weir/v1/envelope.pb.h"

// Protobuf 22 moved its logging to Abseil and removed stubs/logging.h with LogSilencer; Yocto's
// protobuf (4.25 on scarthgap, 6.33 on wrynose) is past that, Debian 12's 3.21 is not.
#if GOOGLE_PROTOBUF_VERSION < 4022000
#include "google/protobuf/stubs/logging.h"
#define WEIR_PROTOBUF_HAS_LOG_SILENCER 1
#endif

namespace weir::codec {
namespace {

using nlohmann::json;

Status Bad(std::string_view field, std::string_view what) {
  return InvalidArgument("envelope " + std::string(field) + ": " + std::string(what));
}

uint64_t RangeCount(const Envelope& e) { return e.last_seq - e.first_seq + 1; }

Status ValidateDefects(const Envelope& e) {
  if (e.defects.empty()) return Bad("defects", "a defects envelope without defects or gap");
  if (e.defect_seqs.size() != e.defects.size()) {
    return Bad("defect_seqs", "has " + std::to_string(e.defect_seqs.size()) + " entries for " +
                                  std::to_string(e.defects.size()) + " defects");
  }
  uint64_t prev = 0;
  for (size_t i = 0; i < e.defect_seqs.size(); ++i) {
    const uint64_t s = e.defect_seqs[i];
    if (s < e.first_seq || s > e.last_seq || (i > 0 && s <= prev)) {
      return Bad("defect_seqs", "sequence " + std::to_string(s) +
                                    " outside first_seq..last_seq or not increasing");
    }
    prev = s;
  }
  if (prev != e.last_seq) return Bad("defect_seqs", "last defect is not at last_seq");
  return Status::Ok();
}

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// --- binary ---

Result<std::string> EncodeBinary(const Envelope& e) {
  weir::v1::Envelope p;
  p.set_device_id(e.device_id);
  if (!e.log_id.empty()) p.set_log_id(e.log_id.ToBytes());
  p.set_boot_epoch(e.boot_epoch);
  p.set_lane(e.lane == Lane::kDefects ? weir::v1::LANE_DEFECTS : weir::v1::LANE_READINGS);
  p.set_first_seq(e.first_seq);
  p.set_last_seq(e.last_seq);
  p.set_prev_seq(e.prev_seq);
  p.set_sent_at_us(e.sent_at_us);
  if (e.gap) {
    p.set_codec(weir::v1::PAYLOAD_CODEC_NONE);
    weir::v1::Gap* g = p.mutable_gap();
    g->set_first_seq(e.gap->first_seq);
    g->set_last_seq(e.gap->last_seq);
    g->set_readings(e.gap->records);
    g->set_oldest_time_us(e.gap->oldest_time_us);
    g->set_newest_time_us(e.gap->newest_time_us);
    g->set_reason(e.gap->reason);
  } else if (e.lane == Lane::kDefects) {
    p.set_codec(weir::v1::PAYLOAD_CODEC_NONE);
    for (size_t i = 0; i < e.defects.size(); ++i) {
      DefectToProto(e.defects[i], p.add_defects());
      p.add_defect_seqs(e.defect_seqs[i]);
    }
  } else {
    p.set_codec(weir::v1::PAYLOAD_CODEC_BATCH_ZSTD);
    if (!e.readings_blob.empty()) {
      p.set_payload(e.readings_blob);
    } else {
      WEIR_ASSIGN_OR_RETURN(std::string blob, EncodeBatch(e.readings));
      p.set_payload(std::move(blob));
    }
  }
  std::string out;
  if (!p.SerializeToString(&out)) return Internal("envelope: protobuf serialization failed");
  return out;
}

Result<Envelope> DecodeBinary(std::string_view bytes) {
  weir::v1::Envelope p;
  // Garbage is expected input here and is reported as a Status; keep protobuf from also
  // logging each invalid UTF-8 string to stderr. Protobuf 22 and later log through Abseil, which
  // has no scoped silencer: there such a message reaches stderr, the result is the same.
#ifdef WEIR_PROTOBUF_HAS_LOG_SILENCER
  const google::protobuf::LogSilencer silence;
#endif
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return DataLoss("envelope: not a valid weir.v1.Envelope (protobuf parse failed)");
  }
  Envelope e;
  e.device_id = p.device_id();
  if (!p.log_id().empty()) {
    auto id = LogId::FromBytes(p.log_id());
    if (!id) {
      return Bad("log_id", std::to_string(p.log_id().size()) + " bytes where 16 were expected");
    }
    e.log_id = *id;
  }
  e.boot_epoch = p.boot_epoch();
  switch (p.lane()) {
    case weir::v1::LANE_DEFECTS:
      e.lane = Lane::kDefects;
      break;
    case weir::v1::LANE_READINGS:
      e.lane = Lane::kReadings;
      break;
    default:
      return Bad("lane", "unknown value " + std::to_string(p.lane()));
  }
  e.first_seq = p.first_seq();
  e.last_seq = p.last_seq();
  e.prev_seq = p.prev_seq();
  e.sent_at_us = p.sent_at_us();
  if (p.has_gap()) {
    const weir::v1::Gap& g = p.gap();
    e.gap = EnvelopeGap{g.first_seq(),      g.last_seq(),       g.readings(),
                        g.oldest_time_us(), g.newest_time_us(), g.reason()};
  }
  switch (p.codec()) {
    case weir::v1::PAYLOAD_CODEC_BATCH_ZSTD: {
      if (e.gap) return Bad("codec", "a gap envelope must use PAYLOAD_CODEC_NONE");
      if (e.lane != Lane::kReadings) return Bad("codec", "batch payload in the defects lane");
      // Check the range before decoding, so a lying header cannot make us decode for nothing.
      if (e.first_seq == 0 || e.last_seq < e.first_seq) {
        return Bad("last_seq", "range " + std::to_string(e.first_seq) + ".." +
                                   std::to_string(e.last_seq) + " is empty or starts at 0");
      }
      auto readings = DecodeBatch(p.payload());
      if (!readings.ok()) {
        return DataLoss("envelope payload: " + std::string(readings.status().message()));
      }
      e.readings = std::move(readings).value();
      break;
    }
    case weir::v1::PAYLOAD_CODEC_NONE:
      if (!p.payload().empty()) return Bad("payload", "must be empty with PAYLOAD_CODEC_NONE");
      break;
    default:
      return Bad("codec", "unknown value " + std::to_string(p.codec()));
  }
  e.defects.reserve(static_cast<size_t>(p.defects_size()));
  for (const weir::v1::Defect& d : p.defects()) {
    auto defect = DefectFromProto(d);
    if (!defect.ok())
      return DataLoss("envelope defects: " + std::string(defect.status().message()));
    e.defects.push_back(std::move(defect).value());
  }
  e.defect_seqs.assign(p.defect_seqs().begin(), p.defect_seqs().end());
  // Older writers may omit defect_seqs for consecutive defects.
  if (e.defect_seqs.empty() && !e.defects.empty() && e.last_seq >= e.first_seq &&
      e.defects.size() == RangeCount(e)) {
    for (uint64_t s = e.first_seq; s <= e.last_seq; ++s) e.defect_seqs.push_back(s);
  }
  WEIR_RETURN_IF_ERROR(ValidateEnvelope(e));
  return e;
}

// --- JSON ---

json GapToJson(const EnvelopeGap& g) {
  return json{{"first_seq", g.first_seq},
              {"last_seq", g.last_seq},
              {"readings", g.records},
              {"oldest_time_us", g.oldest_time_us},
              {"newest_time_us", g.newest_time_us},
              {"reason", g.reason}};
}

Result<std::string> EncodeJson(const Envelope& e) {
  json j = {{"device_id", e.device_id},         {"boot_epoch", e.boot_epoch},
            {"lane", EnvelopeLaneName(e.lane)}, {"first_seq", e.first_seq},
            {"last_seq", e.last_seq},           {"prev_seq", e.prev_seq},
            {"sent_at_us", e.sent_at_us}};
  if (!e.log_id.empty()) j["log_id"] = e.log_id.ToHex();
  if (e.gap) {
    j["gap"] = GapToJson(*e.gap);
  } else if (e.lane == Lane::kDefects) {
    json defects = json::array();
    for (size_t i = 0; i < e.defects.size(); ++i) {
      json d = DefectToJson(e.defects[i]);
      d["seq"] = e.defect_seqs[i];
      defects.push_back(std::move(d));
    }
    j["defects"] = std::move(defects);
  } else {
    std::vector<Reading> decoded;
    std::span<const Reading> readings = e.readings;
    if (readings.empty() && !e.readings_blob.empty()) {
      WEIR_ASSIGN_OR_RETURN(decoded, DecodeBatch(e.readings_blob));
      if (decoded.size() != RangeCount(e)) {
        return Bad("readings_blob", "holds " + std::to_string(decoded.size()) +
                                        " readings for the range " + std::to_string(e.first_seq) +
                                        ".." + std::to_string(e.last_seq));
      }
      readings = decoded;
    }
    json arr = json::array();
    for (size_t i = 0; i < readings.size(); ++i) {
      const Reading& r = readings[i];
      arr.push_back({{"seq", e.first_seq + i},
                     {"sensor", r.sensor},
                     {"ts", FormatRfc3339(r.time_us)},
                     {"time_us", r.time_us},
                     {"value", Number(r.value)},
                     {"quality", r.quality}});
    }
    j["readings"] = std::move(arr);
  }
  // Replace invalid UTF-8 rather than throw: ids are validated at ingest, this is a backstop.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Field accessors for untrusted JSON: each names the field on failure.
Result<uint64_t> GetU64(const json& o, const char* key, std::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number_unsigned()) {
    return Bad(std::string(where) + key, "missing or not a non-negative integer");
  }
  return it->get<uint64_t>();
}

Result<int64_t> GetI64(const json& o, const char* key, std::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number_integer()) {
    return Bad(std::string(where) + key, "missing or not an integer");
  }
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Bad(std::string(where) + key, "out of range");
  }
  return it->get<int64_t>();
}

Result<std::string> GetString(const json& o, const char* key, std::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_string())
    return Bad(std::string(where) + key, "missing or not a string");
  return it->get<std::string>();
}

// A number, or null for a non-finite value (JSON has no NaN).
Result<double> GetDouble(const json& o, const char* key, std::string_view where) {
  auto it = o.find(key);
  if (it != o.end() && it->is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (it == o.end() || !it->is_number())
    return Bad(std::string(where) + key, "missing or not a number");
  return it->get<double>();
}

Result<uint32_t> GetU32(const json& o, const char* key, std::string_view where) {
  WEIR_ASSIGN_OR_RETURN(uint64_t v, GetU64(o, key, where));
  if (v > std::numeric_limits<uint32_t>::max())
    return Bad(std::string(where) + key, "out of range");
  return static_cast<uint32_t>(v);
}

// The optional incident fields and contributions (defect_codec.h); absent means a plain defect.
Status IncidentFromJson(const json& j, std::string_view where, Defect* d) {
  if (auto it = j.find("phase"); it != j.end()) {
    if (!it->is_string()) return Bad(std::string(where) + "phase", "not a string");
    auto phase = ParseIncidentPhase(it->get<std::string>());
    if (!phase.ok()) return Bad(std::string(where) + "phase", phase.status().message());
    d->phase = *phase;
    WEIR_ASSIGN_OR_RETURN(std::string id, GetString(j, "incident_id", where));
    auto parsed = ParseIncidentId(id);
    if (!parsed.ok()) return Bad(std::string(where) + "incident_id", parsed.status().message());
    d->incident_id = *parsed;
    WEIR_ASSIGN_OR_RETURN(d->firings, GetU32(j, "firings", where));
  }
  auto cs = j.find("contributions");
  if (cs == j.end()) return Status::Ok();
  if (!cs->is_array()) return Bad(std::string(where) + "contributions", "not an array");
  for (size_t i = 0; i < cs->size(); ++i) {
    const json& c = (*cs)[i];
    const std::string cw = std::string(where) + "contributions[" + std::to_string(i) + "].";
    if (!c.is_object()) return Bad(cw, "not an object");
    Contribution out;
    WEIR_ASSIGN_OR_RETURN(out.sensor, GetString(c, "sensor", cw));
    WEIR_ASSIGN_OR_RETURN(out.share, GetDouble(c, "share", cw));
    WEIR_ASSIGN_OR_RETURN(out.value, GetDouble(c, "value", cw));
    d->contributions.push_back(std::move(out));
  }
  return Status::Ok();
}

Result<Defect> DefectFromJson(const json& j, std::string_view where) {
  if (!j.is_object()) return Bad(where, "not an object");
  Defect d;
  WEIR_ASSIGN_OR_RETURN(d.sensor, GetString(j, "sensor", where));
  WEIR_ASSIGN_OR_RETURN(std::string kind, GetString(j, "kind", where));
  auto k = ParseDefectKind(kind);
  if (!k.ok()) return Bad(std::string(where) + "kind", k.status().message());
  d.kind = *k;
  WEIR_ASSIGN_OR_RETURN(std::string severity, GetString(j, "severity", where));
  auto s = ParseSeverity(severity);
  if (!s.ok()) return Bad(std::string(where) + "severity", s.status().message());
  d.severity = *s;
  WEIR_ASSIGN_OR_RETURN(d.detector, GetString(j, "detector", where));
  WEIR_ASSIGN_OR_RETURN(d.window_start_us, GetI64(j, "window_start_us", where));
  WEIR_ASSIGN_OR_RETURN(d.window_end_us, GetI64(j, "window_end_us", where));
  WEIR_ASSIGN_OR_RETURN(d.detected_at_us, GetI64(j, "detected_at_us", where));
  WEIR_ASSIGN_OR_RETURN(d.score, GetDouble(j, "score", where));
  WEIR_ASSIGN_OR_RETURN(d.message, GetString(j, "message", where));
  auto stats = j.find("stats");
  if (stats == j.end() || !stats->is_object()) return Bad(std::string(where) + "stats", "missing");
  const std::string sw = std::string(where) + "stats.";
  WEIR_ASSIGN_OR_RETURN(d.stats.count, GetU64(*stats, "count", sw));
  WEIR_ASSIGN_OR_RETURN(d.stats.min, GetDouble(*stats, "min", sw));
  WEIR_ASSIGN_OR_RETURN(d.stats.max, GetDouble(*stats, "max", sw));
  WEIR_ASSIGN_OR_RETURN(d.stats.mean, GetDouble(*stats, "mean", sw));
  WEIR_ASSIGN_OR_RETURN(d.stats.stddev, GetDouble(*stats, "stddev", sw));
  auto ev = j.find("evidence");
  if (ev != j.end()) {
    if (!ev->is_array()) return Bad(std::string(where) + "evidence", "not an array");
    for (size_t i = 0; i < ev->size(); ++i) {
      const json& r = (*ev)[i];
      const std::string rw = std::string(where) + "evidence[" + std::to_string(i) + "].";
      if (!r.is_object()) return Bad(rw, "not an object");
      Reading reading;
      reading.sensor = d.sensor;
      WEIR_ASSIGN_OR_RETURN(reading.time_us, GetI64(r, "time_us", rw));
      WEIR_ASSIGN_OR_RETURN(reading.value, GetDouble(r, "value", rw));
      WEIR_ASSIGN_OR_RETURN(reading.quality, GetU32(r, "quality", rw));
      d.evidence.push_back(std::move(reading));
    }
  }
  WEIR_RETURN_IF_ERROR(IncidentFromJson(j, where, &d));
  return d;
}

Result<Envelope> DecodeJsonObject(const json& j) {
  if (!j.is_object()) return DataLoss("envelope: JSON is not an object");
  Envelope e;
  WEIR_ASSIGN_OR_RETURN(e.device_id, GetString(j, "device_id", ""));
  if (j.contains("log_id")) {
    WEIR_ASSIGN_OR_RETURN(std::string hex, GetString(j, "log_id", ""));
    auto id = LogId::FromHex(hex);
    if (!id) return Bad("log_id", "'" + hex + "' is not 32 hex digits");
    e.log_id = *id;
  }
  WEIR_ASSIGN_OR_RETURN(e.boot_epoch, GetU64(j, "boot_epoch", ""));
  WEIR_ASSIGN_OR_RETURN(std::string lane, GetString(j, "lane", ""));
  if (lane == "readings") {
    e.lane = Lane::kReadings;
  } else if (lane == "defects") {
    e.lane = Lane::kDefects;
  } else {
    return Bad("lane", "unknown lane '" + lane + "'");
  }
  WEIR_ASSIGN_OR_RETURN(e.first_seq, GetU64(j, "first_seq", ""));
  WEIR_ASSIGN_OR_RETURN(e.last_seq, GetU64(j, "last_seq", ""));
  WEIR_ASSIGN_OR_RETURN(e.prev_seq, GetU64(j, "prev_seq", ""));
  WEIR_ASSIGN_OR_RETURN(e.sent_at_us, GetI64(j, "sent_at_us", ""));
  if (auto g = j.find("gap"); g != j.end()) {
    if (!g->is_object()) return Bad("gap", "not an object");
    EnvelopeGap gap;
    WEIR_ASSIGN_OR_RETURN(gap.first_seq, GetU64(*g, "first_seq", "gap."));
    WEIR_ASSIGN_OR_RETURN(gap.last_seq, GetU64(*g, "last_seq", "gap."));
    WEIR_ASSIGN_OR_RETURN(gap.records, GetU64(*g, "readings", "gap."));
    WEIR_ASSIGN_OR_RETURN(gap.oldest_time_us, GetI64(*g, "oldest_time_us", "gap."));
    WEIR_ASSIGN_OR_RETURN(gap.newest_time_us, GetI64(*g, "newest_time_us", "gap."));
    WEIR_ASSIGN_OR_RETURN(gap.reason, GetString(*g, "reason", "gap."));
    e.gap = std::move(gap);
  }
  if (auto rs = j.find("readings"); rs != j.end()) {
    if (!rs->is_array()) return Bad("readings", "not an array");
    for (size_t i = 0; i < rs->size(); ++i) {
      const json& r = (*rs)[i];
      const std::string w = "readings[" + std::to_string(i) + "].";
      if (!r.is_object()) return Bad(w, "not an object");
      WEIR_ASSIGN_OR_RETURN(uint64_t seq, GetU64(r, "seq", w));
      if (seq != e.first_seq + i) {
        return Bad(w + "seq", std::to_string(seq) + " where " + std::to_string(e.first_seq + i) +
                                  " was expected (readings are consecutive from first_seq)");
      }
      Reading reading;
      WEIR_ASSIGN_OR_RETURN(reading.sensor, GetString(r, "sensor", w));
      // time_us is exact; ts is for people and rule engines and is not read back.
      WEIR_ASSIGN_OR_RETURN(reading.time_us, GetI64(r, "time_us", w));
      WEIR_ASSIGN_OR_RETURN(reading.value, GetDouble(r, "value", w));
      WEIR_ASSIGN_OR_RETURN(reading.quality, GetU32(r, "quality", w));
      e.readings.push_back(std::move(reading));
    }
  }
  if (auto ds = j.find("defects"); ds != j.end()) {
    if (!ds->is_array()) return Bad("defects", "not an array");
    for (size_t i = 0; i < ds->size(); ++i) {
      const std::string w = "defects[" + std::to_string(i) + "].";
      if (!(*ds)[i].is_object()) return Bad(w, "not an object");
      WEIR_ASSIGN_OR_RETURN(uint64_t seq, GetU64((*ds)[i], "seq", w));
      WEIR_ASSIGN_OR_RETURN(Defect d, DefectFromJson((*ds)[i], w));
      e.defects.push_back(std::move(d));
      e.defect_seqs.push_back(seq);
    }
  }
  WEIR_RETURN_IF_ERROR(ValidateEnvelope(e));
  return e;
}

Result<Envelope> DecodeJson(std::string_view bytes) {
  json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DataLoss("envelope: not valid JSON");
  try {
    return DecodeJsonObject(j);
  } catch (const json::exception& ex) {
    // The accessors check types first; this is a backstop so garbage never escapes as a throw.
    return DataLoss(std::string("envelope: ") + ex.what());
  }
}

// A copy of `e` restricted to body entries [begin, end) with its sequence range set so that the
// pieces tile the original range.
Envelope Piece(const Envelope& e, size_t begin, size_t end, uint64_t first_seq, uint64_t prev) {
  Envelope p;
  p.device_id = e.device_id;
  p.log_id = e.log_id;
  p.boot_epoch = e.boot_epoch;
  p.lane = e.lane;
  p.sent_at_us = e.sent_at_us;
  p.first_seq = first_seq;
  p.prev_seq = prev;
  if (e.lane == Lane::kDefects) {
    p.defects.assign(e.defects.begin() + static_cast<std::ptrdiff_t>(begin),
                     e.defects.begin() + static_cast<std::ptrdiff_t>(end));
    p.defect_seqs.assign(e.defect_seqs.begin() + static_cast<std::ptrdiff_t>(begin),
                         e.defect_seqs.begin() + static_cast<std::ptrdiff_t>(end));
    p.last_seq = p.defect_seqs.back();
  } else {
    p.readings.assign(e.readings.begin() + static_cast<std::ptrdiff_t>(begin),
                      e.readings.begin() + static_cast<std::ptrdiff_t>(end));
    p.last_seq = e.first_seq + end - 1;
  }
  return p;
}

// Appends encoded pieces for body entries [begin, end): the whole range when it fits, else the
// two halves (so a batch of n readings costs O(n log n) encoding in the worst case).
Status SplitInto(const Envelope& e, EnvelopeFormat format, size_t cap, size_t begin, size_t end,
                 std::vector<EncodedEnvelope>* out, uint64_t* next_first, uint64_t* prev) {
  Envelope piece = Piece(e, begin, end, *next_first, *prev);
  WEIR_ASSIGN_OR_RETURN(std::string bytes, EncodeEnvelope(piece, format));
  if (bytes.size() <= cap) {
    out->push_back({std::move(bytes), piece.first_seq, piece.last_seq});
    *next_first = piece.last_seq + 1;
    *prev = piece.last_seq;
    return Status::Ok();
  }
  if (end - begin == 1) {
    return OutOfRange("envelope: one record at sequence " + std::to_string(piece.last_seq) +
                      " encodes to " + std::to_string(bytes.size()) +
                      " bytes, over max_message_bytes " + std::to_string(cap));
  }
  const size_t mid = begin + (end - begin) / 2;
  WEIR_RETURN_IF_ERROR(SplitInto(e, format, cap, begin, mid, out, next_first, prev));
  return SplitInto(e, format, cap, mid, end, out, next_first, prev);
}

}  // namespace

std::string_view EnvelopeLaneName(Lane lane) {
  return lane == Lane::kDefects ? "defects" : "readings";
}

std::string_view GapReasonKind(std::string_view reason) {
  return reason.substr(0, reason.find_first_of(": "));
}

Status ValidateEnvelope(const Envelope& e) {
  if (e.device_id.empty()) return Bad("device_id", "empty");
  if (e.first_seq == 0) return Bad("first_seq", "0 (sequences start at 1)");
  if (e.last_seq < e.first_seq) {
    return Bad("last_seq",
               std::to_string(e.last_seq) + " below first_seq " + std::to_string(e.first_seq));
  }
  if (e.prev_seq >= e.first_seq) {
    return Bad("prev_seq",
               std::to_string(e.prev_seq) + " not below first_seq " + std::to_string(e.first_seq));
  }
  if (e.gap) {
    if (!e.readings.empty() || !e.defects.empty()) return Bad("gap", "with readings or defects");
    if (e.gap->first_seq != e.first_seq || e.gap->last_seq != e.last_seq) {
      return Bad("gap", "range differs from the envelope's first_seq..last_seq");
    }
    return Status::Ok();
  }
  if (e.lane == Lane::kDefects) {
    if (!e.readings.empty()) return Bad("readings", "in the defects lane");
    return ValidateDefects(e);
  }
  if (!e.defects.empty()) return Bad("defects", "in the readings lane");
  if (e.readings.empty() && e.readings_blob.empty()) {
    return Bad("readings", "a readings envelope without readings or gap");
  }
  if (!e.readings.empty() && e.readings.size() != RangeCount(e)) {
    return Bad("last_seq", "range " + std::to_string(e.first_seq) + ".." +
                               std::to_string(e.last_seq) + " does not match " +
                               std::to_string(e.readings.size()) + " readings");
  }
  return Status::Ok();
}

Result<std::string> EncodeEnvelope(const Envelope& envelope, EnvelopeFormat format) {
  WEIR_RETURN_IF_ERROR(ValidateEnvelope(envelope));
  return format == EnvelopeFormat::kJson ? EncodeJson(envelope) : EncodeBinary(envelope);
}

EnvelopeFormat DetectEnvelopeFormat(std::string_view bytes) {
  return !bytes.empty() && bytes.front() == '{' ? EnvelopeFormat::kJson : EnvelopeFormat::kBinary;
}

Result<Envelope> DecodeEnvelope(std::string_view bytes) {
  if (bytes.empty()) return DataLoss("envelope: empty message");
  return DetectEnvelopeFormat(bytes) == EnvelopeFormat::kJson ? DecodeJson(bytes)
                                                              : DecodeBinary(bytes);
}

Result<std::vector<EncodedEnvelope>> SplitEnvelopePieces(const Envelope& envelope,
                                                         EnvelopeFormat format,
                                                         size_t max_message_bytes) {
  if (max_message_bytes < kMinEnvelopeCapBytes) {
    return InvalidArgument("max_message_bytes " + std::to_string(max_message_bytes) +
                           " is below the minimum " + std::to_string(kMinEnvelopeCapBytes));
  }
  WEIR_RETURN_IF_ERROR(ValidateEnvelope(envelope));
  std::vector<EncodedEnvelope> out;
  WEIR_ASSIGN_OR_RETURN(std::string whole, EncodeEnvelope(envelope, format));
  if (whole.size() <= max_message_bytes || envelope.gap) {
    if (whole.size() > max_message_bytes) {
      return OutOfRange("envelope: a gap record does not fit max_message_bytes");
    }
    out.push_back({std::move(whole), envelope.first_seq, envelope.last_seq});
    return out;
  }
  const size_t n =
      envelope.lane == Lane::kDefects ? envelope.defects.size() : envelope.readings.size();
  if (n == 0) return InvalidArgument("envelope readings: needed to split a readings_blob");
  uint64_t next_first = envelope.first_seq;
  uint64_t prev = envelope.prev_seq;
  WEIR_RETURN_IF_ERROR(
      SplitInto(envelope, format, max_message_bytes, 0, n, &out, &next_first, &prev));
  return out;
}

Result<std::vector<std::string>> SplitEnvelope(const Envelope& envelope, EnvelopeFormat format,
                                               size_t max_message_bytes) {
  WEIR_ASSIGN_OR_RETURN(std::vector<EncodedEnvelope> pieces,
                        SplitEnvelopePieces(envelope, format, max_message_bytes));
  std::vector<std::string> out;
  out.reserve(pieces.size());
  for (EncodedEnvelope& piece : pieces) out.push_back(std::move(piece.bytes));
  return out;
}

}  // namespace weir::codec
