// Layering (defaults, JSON, binary, overrides), per-key checks and rendering. Values travel as
// JSON (nlohmann) between the document, the checks and protobuf reflection, so a value set from
// a file, a flag or the wire meets exactly the same check and error message.
#include "agent/config/config.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include "agent/config/json_walk.h"
#include "agent/config/rules.h"

namespace weir::config {
namespace {

namespace pb = ::google::protobuf;
using internal::Join;
using internal::Json;
using internal::SpecFor;

std::string TypeOf(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::number_float:
      return "the number " + v.dump();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "a number";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "a list";
    default:
      return "something else";
  }
}

Status Problem(const std::string& path, const std::string& what) {
  return InvalidArgument(path + ": " + what);
}

// A number as sign and magnitude, so uint64 and negative int32 compare without overflow.
struct Number {
  bool negative = false;
  uint64_t magnitude = 0;
  std::string Text() const { return (negative ? "-" : "") + std::to_string(magnitude); }
};

Result<Number> ToNumber(const KeySpec& k, const Json& v, const std::string& path) {
  if (v.is_number_unsigned()) return Number{false, v.get<uint64_t>()};
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i >= 0) return Number{false, static_cast<uint64_t>(i)};
    return Number{true, static_cast<uint64_t>(-(i + 1)) + 1};
  }
  // proto3 JSON writes 64-bit integers as strings; accept that form for uint64 keys.
  if (v.is_string() && k.type == KeyType::kUint64) {
    const std::string& s = v.get_ref<const std::string&>();
    Number n;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n.magnitude);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return n;
  }
  return Problem(path, "expected an integer, got " + TypeOf(v));
}

Status CheckNumber(const KeySpec& k, const Number& n, const std::string& path) {
  const bool below = n.negative
                         ? (k.min >= 0 || n.magnitude > static_cast<uint64_t>(-(k.min + 1)) + 1)
                         : (k.min > 0 && n.magnitude < static_cast<uint64_t>(k.min));
  if (below) return Problem(path, n.Text() + " is below the minimum " + std::to_string(k.min));
  if (!n.negative && n.magnitude > static_cast<uint64_t>(k.max)) {
    return Problem(path, n.Text() + " is above the maximum " + std::to_string(k.max));
  }
  if (!k.choices.empty() && !internal::IsChoice(k.choices, n.Text())) {
    return Problem(path, n.Text() + " is not one of " + internal::ChoiceList(k.choices));
  }
  return Status::Ok();
}

Status CheckString(const KeySpec& k, const std::string& s, const std::string& path) {
  const std::string shown = k.secret ? "the value" : "'" + s + "'";
  if (s.size() > static_cast<size_t>(k.max)) {
    return Problem(path,
                   shown + " is longer than the maximum of " + std::to_string(k.max) + " bytes");
  }
  if (s.size() < static_cast<size_t>(k.min)) return Problem(path, "must not be empty");
  if (!k.choices.empty() && !internal::IsChoice(k.choices, s)) {
    return Problem(path, shown + " is not one of " + internal::ChoiceList(k.choices));
  }
  if (s.empty()) return Status::Ok();  // emptiness of required keys is Validate()'s business
  std::string why = internal::CheckRule(k.rule, s);
  if (!why.empty()) return Problem(path, why);
  return Status::Ok();
}

Status CheckDouble(const KeySpec& k, double d, const std::string& path) {
  if (!std::isfinite(d)) return Problem(path, "expected a finite number");
  if (k.min_exclusive && d <= k.min_double) {
    return Problem(path, DoubleText(d) + " is not above the minimum " + DoubleText(k.min_double));
  }
  if (d < k.min_double) {
    return Problem(path, DoubleText(d) + " is below the minimum " + DoubleText(k.min_double));
  }
  if (d > k.max_double) {
    return Problem(path, DoubleText(d) + " is above the maximum " + DoubleText(k.max_double));
  }
  return Status::Ok();
}

// Checks `v` against the key's type and range; on success sets it when `m` is not null.
Status CheckAndSetScalar(pb::Message* m, const pb::FieldDescriptor* fd, const Json& v,
                         const std::string& path) {
  const KeySpec& k = SpecFor(path);
  if (k.type == KeyType::kBool) {
    if (!v.is_boolean()) return Problem(path, "expected true or false, got " + TypeOf(v));
    if (m != nullptr) m->GetReflection()->SetBool(m, fd, v.get<bool>());
    return Status::Ok();
  }
  if (k.type == KeyType::kDouble) {
    // A binary document's NaN arrives as a JSON number; JSON text cannot carry one.
    if (!v.is_number()) return Problem(path, "expected a number, got " + TypeOf(v));
    const double d = v.get<double>();
    WEIR_RETURN_IF_ERROR(CheckDouble(k, d, path));
    if (m != nullptr) m->GetReflection()->SetDouble(m, fd, d);
    return Status::Ok();
  }
  if (k.type == KeyType::kString) {
    if (!v.is_string()) return Problem(path, "expected a string, got " + TypeOf(v));
    const std::string& s = v.get_ref<const std::string&>();
    WEIR_RETURN_IF_ERROR(CheckString(k, s, path));
    if (m != nullptr) m->GetReflection()->SetString(m, fd, s);
    return Status::Ok();
  }
  WEIR_ASSIGN_OR_RETURN(Number n, ToNumber(k, v, path));
  WEIR_RETURN_IF_ERROR(CheckNumber(k, n, path));
  if (m == nullptr) return Status::Ok();
  const pb::Reflection* r = m->GetReflection();
  switch (fd->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      r->SetUInt32(m, fd, static_cast<uint32_t>(n.magnitude));
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      r->SetUInt64(m, fd, n.magnitude);
      break;
    case pb::FieldDescriptor::CPPTYPE_INT32:
      r->SetInt32(
          m, fd,
          n.negative ? -static_cast<int32_t>(n.magnitude) : static_cast<int32_t>(n.magnitude));
      break;
    default:
      assert(false && "config.proto field type without a schema mapping");
  }
  return Status::Ok();
}

void FillDefaults(pb::Message* m, const std::string& prefix);
Status MergeObject(const Json& obj, pb::Message* m, const std::string& prefix);

pb::Message* AppendElement(pb::Message* m, const pb::FieldDescriptor* fd,
                           const std::string& elem_path) {
  pb::Message* e = m->GetReflection()->AddMessage(m, fd);
  FillDefaults(e, elem_path);
  return e;
}

Status SetList(const Json& v, pb::Message* m, const pb::FieldDescriptor* fd,
               const std::string& path) {
  const KeySpec& k = SpecFor(path);
  if (!v.is_array()) return Problem(path, "expected a list, got " + TypeOf(v));
  if (v.size() < static_cast<size_t>(k.min) || v.size() > static_cast<size_t>(k.max)) {
    return Problem(path, std::to_string(v.size()) + " items; allowed " + std::to_string(k.min) +
                             ".." + std::to_string(k.max));
  }
  m->GetReflection()->ClearField(m, fd);
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string elem_path = path + "[" + std::to_string(i) + "]";
    WEIR_RETURN_IF_ERROR(MergeObject(v[i], AppendElement(m, fd, elem_path), elem_path));
  }
  return Status::Ok();
}

Status MergeField(const Json& v, pb::Message* m, const pb::FieldDescriptor* fd,
                  const std::string& path) {
  if (fd->is_repeated()) return SetList(v, m, fd, path);
  if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    return MergeObject(v, m->GetReflection()->MutableMessage(m, fd), path);
  }
  return CheckAndSetScalar(m, fd, v, path);
}

Status MergeObject(const Json& obj, pb::Message* m, const std::string& prefix) {
  if (!obj.is_object()) {
    return Problem(prefix.empty() ? "(top level)" : prefix,
                   "expected an object, got " + TypeOf(obj));
  }
  for (const auto& [key, value] : obj.items()) {
    const std::string path = Join(prefix, key);
    const pb::FieldDescriptor* fd = m->GetDescriptor()->FindFieldByName(key);
    if (fd == nullptr) return Problem(path, "unknown key");
    WEIR_RETURN_IF_ERROR(MergeField(value, m, fd, path));
  }
  return Status::Ok();
}

void FillDefaults(pb::Message* m, const std::string& prefix) {
  const pb::Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* fd = d->field(i);
    const std::string path = Join(prefix, fd->name());
    Status s;
    if (fd->is_repeated()) {
      s = SetList(Json::parse(SpecFor(path).default_text), m, fd, path);
    } else if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      FillDefaults(m->GetReflection()->MutableMessage(m, fd), path);
    } else {
      const KeySpec& k = SpecFor(path);
      Json v = k.type == KeyType::kString ? Json(std::string(k.default_text))
                                          : Json::parse(k.default_text);
      s = CheckAndSetScalar(m, fd, v, path);
    }
    assert(s.ok() && "a schema default fails its own checks");
    s.IgnoreError();
  }
}

// Layers a binary message over `dst`: fields present in `src` replace dst's.
Status MergeMessage(const pb::Message& src, pb::Message* dst, const std::string& prefix) {
  const pb::Reflection* r = src.GetReflection();
  const pb::UnknownFieldSet& unknown = r->GetUnknownFields(src);
  if (unknown.field_count() > 0) {
    return Problem(Join(prefix, "#" + std::to_string(unknown.field(0).number())), "unknown field");
  }
  const pb::Descriptor* d = src.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* fd = d->field(i);
    const std::string path = Join(prefix, fd->name());
    if (fd->is_repeated()) {
      const int n = r->FieldSize(src, fd);
      if (n == 0) continue;
      const KeySpec& k = SpecFor(path);
      if (n > k.max) {
        return Problem(path, std::to_string(n) + " items; allowed " + std::to_string(k.min) + ".." +
                                 std::to_string(k.max));
      }
      dst->GetReflection()->ClearField(dst, fd);
      for (int j = 0; j < n; ++j) {
        const std::string elem_path = path + "[" + std::to_string(j) + "]";
        WEIR_RETURN_IF_ERROR(MergeMessage(r->GetRepeatedMessage(src, fd, j),
                                          AppendElement(dst, fd, elem_path), elem_path));
      }
    } else if (r->HasField(src, fd)) {
      if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        WEIR_RETURN_IF_ERROR(MergeMessage(r->GetMessage(src, fd),
                                          dst->GetReflection()->MutableMessage(dst, fd), path));
      } else {
        WEIR_RETURN_IF_ERROR(CheckAndSetScalar(
            dst, fd, internal::FieldToJson(src, fd, path, Redact::kNothing), path));
      }
    }
  }
  return Status::Ok();
}

// Override text to the JSON value the key expects: strings verbatim, integers, doubles (any
// std::from_chars form), booleans as true|false|1|0, lists and objects as JSON text.
Result<Json> OverrideValue(const pb::FieldDescriptor* fd, const std::string& text,
                           const std::string& path) {
  if (fd->is_repeated() || fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    Json v = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (v.is_discarded()) return Problem(path, "the value is not valid JSON");
    return v;
  }
  if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) return Json(text);
  if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_BOOL) {
    if (text == "true" || text == "1") return Json(true);
    if (text == "false" || text == "0") return Json(false);
    return Problem(path, "'" + text + "' is not true, false, 1 or 0");
  }
  if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE) {
    double d = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (text.empty() || p != text.data() + text.size() ||
        (ec != std::errc() && ec != std::errc::result_out_of_range)) {
      return Problem(path, "'" + text + "' is not a number");
    }
    if (ec == std::errc::result_out_of_range || !std::isfinite(d)) {
      return Problem(path, "'" + text + "' is not a finite number");
    }
    return Json(d);
  }
  Number n;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (begin != end && *begin == '-') {
    n.negative = true;
    ++begin;
  }
  auto [p, ec] = std::from_chars(begin, end, n.magnitude);
  if (begin == end || ec != std::errc() || p != end) {
    return Problem(path, "'" + text + "' is not an integer");
  }
  if (!n.negative) return Json(n.magnitude);
  if (n.magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Problem(path, "'" + text + "' is not an integer in range");
  }
  return Json(-static_cast<int64_t>(n.magnitude));
}

// One segment of an override path: "subscriptions[2]" -> {"subscriptions", 2}.
struct Segment {
  std::string name;
  int64_t index = -1;
};

Result<std::vector<Segment>> SplitPath(const std::string& path) {
  std::vector<Segment> out;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    Segment seg;
    const size_t bracket = part.find('[');
    if (bracket != std::string::npos) {
      const std::string idx = part.substr(bracket + 1);
      uint32_t i = 0;
      auto [p, ec] = std::from_chars(idx.data(), idx.data() + idx.size(), i);
      if (ec != std::errc() || idx.size() < 2 || p != idx.data() + idx.size() - 1 || *p != ']') {
        return Problem(path, "malformed list index in '" + part + "'");
      }
      seg.index = i;
      part.resize(bracket);
    }
    if (part.empty()) return Problem(path, "empty key in path");
    seg.name = part;
    out.push_back(std::move(seg));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

Status ApplyOne(const Override& o, pb::Message* root) {
  WEIR_ASSIGN_OR_RETURN(std::vector<Segment> segs, SplitPath(o.path));
  pb::Message* m = root;
  std::string path;
  for (size_t i = 0; i < segs.size(); ++i) {
    const Segment& seg = segs[i];
    const bool last = i + 1 == segs.size();
    const pb::FieldDescriptor* fd = m->GetDescriptor()->FindFieldByName(seg.name);
    path = Join(path, seg.name);
    if (fd == nullptr) return Problem(path, "unknown key");
    if (seg.index >= 0) {
      if (!fd->is_repeated()) return Problem(path, "is not a list");
      const int size = m->GetReflection()->FieldSize(*m, fd);
      const std::string elem_path = path + "[" + std::to_string(seg.index) + "]";
      if (seg.index > size) {
        return Problem(elem_path, "index out of range (the list has " + std::to_string(size) +
                                      " items; index " + std::to_string(size) + " appends)");
      }
      if (seg.index == size) {
        if (size >= SpecFor(path).max) {
          return Problem(
              path, "already has the maximum of " + std::to_string(SpecFor(path).max) + " items");
        }
        m = AppendElement(m, fd, elem_path);
      } else {
        m = m->GetReflection()->MutableRepeatedMessage(m, fd, static_cast<int>(seg.index));
      }
      path = elem_path;
      if (last) {
        Json v = Json::parse(o.value, nullptr, false);
        if (v.is_discarded()) return Problem(path, "the value is not valid JSON");
        return MergeObject(v, m, path);
      }
      continue;
    }
    if (last) {
      WEIR_ASSIGN_OR_RETURN(Json v, OverrideValue(fd, o.value, path));
      return MergeField(v, m, fd, path);
    }
    if (fd->is_repeated()) {
      return Problem(path, "is a list; address an element as " + path + "[0]");
    }
    if (fd->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      return Problem(path, "is not an object");
    }
    m = m->GetReflection()->MutableMessage(m, fd);
  }
  return Status::Ok();
}

// Checks of single keys over a whole message, collecting every problem.
void CheckKeys(const pb::Message& m, const std::string& prefix, std::vector<std::string>* out) {
  const pb::Reflection* r = m.GetReflection();
  const pb::Descriptor* d = m.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* fd = d->field(i);
    const std::string path = Join(prefix, fd->name());
    if (fd->is_repeated()) {
      const KeySpec& k = SpecFor(path);
      const int n = r->FieldSize(m, fd);
      if (n < k.min || n > k.max) {
        out->push_back(path + ": " + std::to_string(n) + " items; allowed " +
                       std::to_string(k.min) + ".." + std::to_string(k.max));
      }
      for (int j = 0; j < n; ++j) {
        CheckKeys(r->GetRepeatedMessage(m, fd, j), path + "[" + std::to_string(j) + "]", out);
      }
    } else if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      CheckKeys(r->GetMessage(m, fd), path, out);
    } else if (!r->HasField(m, fd)) {
      out->push_back(path + ": not set");
    } else {
      const KeySpec& k = SpecFor(path);
      Status s = CheckAndSetScalar(nullptr, fd,
                                   internal::FieldToJson(m, fd, path, Redact::kNothing), path);
      if (!s.ok()) {
        out->push_back(s.message());
      } else if (k.required && fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING &&
                 r->GetString(m, fd).empty()) {
        out->push_back(path + ": required (set it in the config file, " + EnvName(path) +
                       " or a flag)");
      }
    }
  }
}

}  // namespace

namespace internal {

std::string Join(std::string_view prefix, std::string_view name) {
  std::string out(prefix);
  if (!out.empty()) out += '.';
  out += name;
  return out;
}

const KeySpec& SpecFor(std::string_view path) {
  const KeySpec* k = FindKey(path);
  assert(k != nullptr && "config.proto field without a row in the schema table");
  return *k;
}

Json FieldToJson(const pb::Message& m, const pb::FieldDescriptor* fd, const std::string& path,
                 Redact redact) {
  const pb::Reflection* r = m.GetReflection();
  if (fd->is_repeated()) {
    Json list = Json::array();
    for (int j = 0; j < r->FieldSize(m, fd); ++j) {
      const pb::Message& e = r->GetRepeatedMessage(m, fd, j);
      const std::string elem_path = path + "[" + std::to_string(j) + "]";
      Json obj = Json::object();
      for (int i = 0; i < e.GetDescriptor()->field_count(); ++i) {
        const pb::FieldDescriptor* f = e.GetDescriptor()->field(i);
        obj[f->name()] = FieldToJson(e, f, Join(elem_path, f->name()), redact);
      }
      list.push_back(std::move(obj));
    }
    return list;
  }
  switch (fd->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
      const pb::Message& sub = r->GetMessage(m, fd);
      Json obj = Json::object();
      for (int i = 0; i < sub.GetDescriptor()->field_count(); ++i) {
        const pb::FieldDescriptor* f = sub.GetDescriptor()->field(i);
        obj[f->name()] = FieldToJson(sub, f, Join(path, f->name()), redact);
      }
      return obj;
    }
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string s = r->GetString(m, fd);
      if (redact == Redact::kSecrets && !s.empty() && SpecFor(path).secret) s = "<redacted>";
      return s;
    }
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return r->GetUInt32(m, fd);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return r->GetUInt64(m, fd);
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(m, fd);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return r->GetDouble(m, fd);
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(m, fd);
    default:
      assert(false && "config.proto field type without a schema mapping");
      return nullptr;
  }
}

}  // namespace internal

AgentConfig Defaults() {
  AgentConfig c;
  FillDefaults(&c, "");
  return c;
}

Result<AgentConfig> MergeJson(const AgentConfig& base, std::string_view json_text) {
  Json doc;
  try {
    doc = Json::parse(json_text);
  } catch (const Json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ...", or
    // "[json.exception.out_of_range.406] number overflow parsing '1e999'" for a number no double
    // can hold.
    std::string what = e.what();
    const size_t at = what.find("] ");
    return InvalidArgument("not valid JSON: " +
                           (at == std::string::npos ? what : what.substr(at + 2)));
  }
  AgentConfig out = base;
  WEIR_RETURN_IF_ERROR(MergeObject(doc, &out, ""));
  return out;
}

Result<AgentConfig> MergeBinary(const AgentConfig& base, std::string_view bytes) {
  AgentConfig doc;
  if (!doc.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgument("not a valid binary weir.v1.AgentConfig");
  }
  AgentConfig out = base;
  WEIR_RETURN_IF_ERROR(MergeMessage(doc, &out, ""));
  return out;
}

Result<Override> ParseOverride(std::string_view path_equals_value, std::string_view origin) {
  const size_t eq = path_equals_value.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return InvalidArgument(std::string(origin) + ": expected key=value, got '" +
                           std::string(path_equals_value) + "'");
  }
  return Override{std::string(path_equals_value.substr(0, eq)),
                  std::string(path_equals_value.substr(eq + 1)), std::string(origin)};
}

std::vector<Override> EnvOverrides(const std::vector<std::string>& environ_entries) {
  std::vector<Override> out;
  for (const std::string& entry : environ_entries) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || entry.rfind("WEIR_", 0) != 0) continue;
    const std::string name = entry.substr(0, eq);
    // WEIR_INGEST__SUBSCRIPTIONS__0__TOPIC -> ingest.subscriptions[0].topic
    std::string path;
    size_t start = 5;
    while (start <= name.size()) {
      size_t sep = name.find("__", start);
      if (sep == std::string::npos) sep = name.size();
      std::string level = name.substr(start, sep - start);
      for (char& c : level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const bool numeric =
          !level.empty() && level.find_first_not_of("0123456789") == std::string::npos;
      if (numeric && !path.empty()) {
        path += "[" + level + "]";
      } else {
        path = Join(path, level);
      }
      start = sep + 2;
    }
    out.push_back(Override{path, entry.substr(eq + 1), name});
  }
  return out;
}

Result<AgentConfig> ApplyOverrides(const AgentConfig& base,
                                   const std::vector<Override>& overrides) {
  AgentConfig out = base;
  for (const Override& o : overrides) {
    Status s = ApplyOne(o, &out);
    if (!s.ok()) return s.WithContext(o.origin);
  }
  return out;
}

Status Validate(const AgentConfig& config) {
  std::vector<std::string> problems;
  CheckKeys(config, "", &problems);
  internal::CheckAcrossKeys(config, &problems);
  if (problems.empty()) return Status::Ok();
  std::string message = problems.front();
  for (size_t i = 1; i < problems.size(); ++i) message += "; " + problems[i];
  return InvalidArgument(std::move(message));
}

Result<AgentConfig> Load(const Sources& sources) {
  AgentConfig c = Defaults();
  if (!sources.file_json.empty()) {
    Result<AgentConfig> r = MergeJson(c, sources.file_json);
    if (!r.ok()) return r.status().WithContext(sources.file_name);
    c = std::move(r).value();
  }
  WEIR_ASSIGN_OR_RETURN(c, ApplyOverrides(c, EnvOverrides(sources.environ_entries)));
  WEIR_ASSIGN_OR_RETURN(c, ApplyOverrides(c, sources.flags));
  WEIR_RETURN_IF_ERROR(Validate(c));
  return c;
}

std::string RenderJson(const AgentConfig& config, Redact redact) {
  Json doc = Json::object();
  const pb::Descriptor* d = config.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* fd = d->field(i);
    // name() is a const std::string& up to protobuf 29 and an absl::string_view from 30 on.
    const std::string name(fd->name());
    doc[name] = internal::FieldToJson(config, fd, name, redact);
  }
  return doc.dump(2) + "\n";
}

}  // namespace weir::config
