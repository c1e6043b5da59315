// Config diff, the remote allow-list, and remote update planning.
#include "agent/config/diff.h"

#include <google/protobuf/descriptor.h>

#include "agent/config/json_walk.h"

namespace weir::config {
namespace {

namespace pb = ::google::protobuf;
using internal::Join;
using internal::Json;
using internal::SpecFor;

Change MakeChange(const std::string& path, std::string before, std::string after) {
  const KeySpec& k = SpecFor(path);
  return Change{path, k.apply, k.remote, std::move(before), std::move(after)};
}

void DiffMessages(const pb::Message& a, const pb::Message& b, const std::string& prefix,
                  std::vector<Change>* out) {
  const pb::Descriptor* d = a.GetDescriptor();
  const pb::Reflection* r = a.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* fd = d->field(i);
    const std::string path = Join(prefix, fd->name());
    if (fd->is_repeated()) {
      const int na = r->FieldSize(a, fd);
      const int nb = r->FieldSize(b, fd);
      for (int j = 0; j < std::max(na, nb); ++j) {
        const std::string elem_path = path + "[" + std::to_string(j) + "]";
        if (j < na && j < nb) {
          DiffMessages(r->GetRepeatedMessage(a, fd, j), r->GetRepeatedMessage(b, fd, j), elem_path,
                       out);
          continue;
        }
        // An element only one side has: the list's own apply and remote rules hold.
        const pb::Message& e =
            j < na ? r->GetRepeatedMessage(a, fd, j) : r->GetRepeatedMessage(b, fd, j);
        Json obj = Json::object();
        for (int f = 0; f < e.GetDescriptor()->field_count(); ++f) {
          const pb::FieldDescriptor* efd = e.GetDescriptor()->field(f);
          obj[efd->name()] =
              internal::FieldToJson(e, efd, Join(elem_path, efd->name()), Redact::kSecrets);
        }
        Change c = MakeChange(path, "", "");
        c.path = elem_path;
        (j < na ? c.before : c.after) = obj.dump();
        out->push_back(std::move(c));
      }
    } else if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      DiffMessages(r->GetMessage(a, fd), r->GetMessage(b, fd), path, out);
    } else {
      const Json va = internal::FieldToJson(a, fd, path, Redact::kNothing);
      const Json vb = internal::FieldToJson(b, fd, path, Redact::kNothing);
      if (va == vb && r->HasField(a, fd) == r->HasField(b, fd)) continue;
      out->push_back(MakeChange(path, internal::FieldToJson(a, fd, path, Redact::kSecrets).dump(),
                                internal::FieldToJson(b, fd, path, Redact::kSecrets).dump()));
    }
  }
}

}  // namespace

std::vector<Change> Diff(const AgentConfig& before, const AgentConfig& after) {
  std::vector<Change> out;
  DiffMessages(before, after, "", &out);
  return out;
}

bool NeedsRestart(const std::vector<Change>& changes) {
  for (const Change& c : changes) {
    if (c.apply == Apply::kRestart) return true;
  }
  return false;
}

Status CheckRemoteAllowed(const std::vector<Change>& changes) {
  std::string denied;
  for (const Change& c : changes) {
    if (c.remote) continue;
    if (!denied.empty()) denied += ", ";
    denied += c.path;
  }
  if (denied.empty()) return Status::Ok();
  return InvalidArgument(denied + ": may not be changed remotely (local config only)");
}

Result<RemotePlan> PlanRemoteUpdate(const AgentConfig& current, std::string_view document,
                                    bool binary) {
  WEIR_ASSIGN_OR_RETURN(AgentConfig next,
                        binary ? MergeBinary(current, document) : MergeJson(current, document));
  WEIR_RETURN_IF_ERROR(Validate(next));
  RemotePlan plan;
  plan.changes = Diff(current, next);
  WEIR_RETURN_IF_ERROR(CheckRemoteAllowed(plan.changes));
  plan.needs_restart = NeedsRestart(plan.changes);
  plan.config = std::move(next);
  return plan;
}

}  // namespace weir::config
