// Where `weir sink` writes the records it delivers: JSON lines, CSV, or a weir log (through
// agent/store's Log). Chosen by the output file's extension.
//
// A SinkOutput is owned and used by one thread (the sink's main loop); not thread-safe. Writes
// block on file I/O. Fallible calls return IoError (files) or the store's error (log).
#pragma once

#include <filesystem>
#include <memory>

#include "agent/app/sink_ledger.h"
#include "agent/codec/envelope_codec.h"
#include "agent/core/status.h"

namespace weir::app {

class SinkOutput {
 public:
  virtual ~SinkOutput() = default;
  // Writes the records `delivery` selects from `envelope` (the first delivery of each).
  virtual Status Write(const codec::Envelope& envelope, const SinkLedger::Delivery& delivery) = 0;
  // Makes what was written durable enough to read back (flush, or commit the log). Called
  // periodically and at the end.
  virtual Status Flush() = 0;
};

// By extension of `path`:
//  - .csv: one row per reading, header `device,seq,sensor,ts,time_us,value,quality,log_id`
//    (defects are not written: CSV has no room for their evidence);
//  - .db / .sqlite / .log: a weir log, readings and defects appended through store::Log (the log
//    assigns its own sequences; device sequences are not kept);
//  - anything else (.jsonl, .json): JSON lines, one object per reading
//    {"device","log_id","lane":"readings","seq","sensor","ts","time_us","value","quality"} or
//    per defect {"device","log_id","lane":"defects","seq","defect":{codec::DefectToJson}}.
//    log_id is the envelope's (32 hex digits; "" from agents that predate it): a record is
//    identified by (device, log_id, lane, seq).
// Creates or truncates the file (a log is opened or created and appended to). Returns IoError
// when it cannot be created, or the log's open error (AlreadyExists when another weir holds it).
Result<std::unique_ptr<SinkOutput>> OpenSinkOutput(const std::filesystem::path& path);

}  // namespace weir::app
