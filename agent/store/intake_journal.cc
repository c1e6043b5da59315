#include "agent/store/intake_journal.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "agent/core/logging.h"
#include "agent/store/crc32c.h"
#include "platform/files.h"

namespace weir::store {
namespace fs = std::filesystem;
namespace {

// u32 body_len, u32 crc; then the body's fixed part: u64 number, i64 wall_us, u32 topic_len.
constexpr size_t kFrameBytes = 8;
constexpr size_t kBodyFixedBytes = 20;
constexpr size_t kHeaderBytes = kFrameBytes + kBodyFixedBytes;
// An entry larger than this is damage, not a message (ingest refuses payloads far smaller).
constexpr uint32_t kMaxBodyBytes = 64u << 20;
constexpr size_t kReadBlock = 64 * 1024;
constexpr std::string_view kSuffix = ".journal";

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void PutU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// The first number encoded in a segment's file name, or 0 when the name is not a segment's.
uint64_t SegmentFirst(const fs::path& file) {
  const std::string name = file.filename().string();
  if (name.size() != 20 + kSuffix.size() || !name.ends_with(kSuffix)) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return v;
}

// Reads a segment through a block buffer; the reader and Open's scan use it.
class SegmentCursor {
 public:
  explicit SegmentCursor(int fd) : fd_(fd) {}

  // The entry at `offset`: its body (number, wall_us, topic, payload) and total size. Returns
  // false at the end of the file, on a short entry, or on a checksum mismatch (`damaged` tells
  // which: false only for a clean end exactly at `offset`).
  bool Next(uint64_t offset, IntakeEntry* entry, uint64_t* size, bool* damaged) {
    *damaged = false;
    if (!Fill(offset, kFrameBytes)) {
      *damaged = available(offset) != 0;
      return false;
    }
    const char* f = at(offset);
    const uint32_t body_len = GetU32(f);
    const uint32_t crc = GetU32(f + 4);
    if (body_len < kBodyFixedBytes || body_len > kMaxBodyBytes ||
        !Fill(offset, kFrameBytes + body_len)) {
      *damaged = true;
      return false;
    }
    const char* b = at(offset) + kFrameBytes;
    if (Crc32cFinish(Crc32cUpdate(kCrc32cInit, b, body_len)) != crc) {
      *damaged = true;
      return false;
    }
    const uint32_t topic_len = GetU32(b + 16);
    if (topic_len > body_len - kBodyFixedBytes) {
      *damaged = true;
      return false;
    }
    entry->number = GetU64(b);
    entry->wall_us = static_cast<TimeMicros>(GetU64(b + 8));
    entry->topic.assign(b + kBodyFixedBytes, topic_len);
    entry->payload.assign(b + kBodyFixedBytes + topic_len, body_len - kBodyFixedBytes - topic_len);
    *size = kFrameBytes + body_len;
    return true;
  }

 private:
  size_t available(uint64_t offset) const {
    if (offset < start_ || offset > start_ + buf_.size()) return 0;
    return static_cast<size_t>(start_ + buf_.size() - offset);
  }
  const char* at(uint64_t offset) const { return buf_.data() + (offset - start_); }
  // Makes [offset, offset + n) available in the buffer; false when the file is shorter.
  bool Fill(uint64_t offset, size_t n) {
    if (offset >= start_ && offset + n <= start_ + buf_.size()) return true;
    buf_.resize(std::max(n, kReadBlock));
    size_t got = 0;
    while (got < buf_.size()) {
      const ssize_t r =
          ::pread(fd_, buf_.data() + got, buf_.size() - got, static_cast<off_t>(offset + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    buf_.resize(got);
    start_ = offset;
    return got >= n;
  }

  int fd_;
  std::string buf_;
  uint64_t start_ = 0;
};

}  // namespace

IntakeJournal::~IntakeJournal() {
  if (fd_ >= 0) ::close(fd_);
  if (read_fd_ >= 0) ::close(read_fd_);
}

fs::path IntakeJournal::SegmentPath(uint64_t first_number) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu", static_cast<unsigned long long>(first_number));
  return options_.dir / (std::string(name) + std::string(kSuffix));
}

Result<std::unique_ptr<IntakeJournal>> IntakeJournal::Open(const IntakeJournalOptions& options,
                                                           uint64_t committed_mark) {
  if (options.dir.empty()) return InvalidArgument("intake journal directory is empty");
  if (options.segment_bytes == 0) return InvalidArgument("intake journal segment_bytes is 0");
  WEIR_RETURN_IF_ERROR(platform::EnsureDirectory(options.dir, 0750));
  std::unique_ptr<IntakeJournal> j(new IntakeJournal(options));
  WEIR_RETURN_IF_ERROR(j->Scan(committed_mark));
  return j;
}

// Lists the segments, finds the last intact entry of the newest one (cutting a torn tail off so
// that appends continue on a clean boundary), and opens the segment to append to.
Status IntakeJournal::Scan(uint64_t committed_mark) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(options_.dir, ec)) {
    const uint64_t first = SegmentFirst(e.path());
    if (first == 0) continue;
    segments_[first] = e.file_size(ec);
  }
  if (ec) return IoError("listing " + options_.dir.string() + ": " + ec.message());
  uint64_t last = 0;
  if (!segments_.empty()) {
    auto newest = std::prev(segments_.end());
    const fs::path path = SegmentPath(newest->first);
    const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) return platform::ErrnoStatus("opening", path, errno);
    SegmentCursor cursor(fd);
    uint64_t offset = 0, size = 0, expect = newest->first;
    bool damaged = false;
    IntakeEntry entry;
    while (cursor.Next(offset, &entry, &size, &damaged) && entry.number == expect) {
      offset += size;
      ++expect;
    }
    if (offset != newest->second) {
      LogWarn("store", "intake journal " + path.string() + ": torn tail cut at byte " +
                           std::to_string(offset) + " of " + std::to_string(newest->second));
      if (::ftruncate(fd, static_cast<off_t>(offset)) != 0) {
        const int err = errno;
        ::close(fd);
        return platform::ErrnoStatus("truncating", path, err);
      }
      newest->second = offset;
    }
    last = expect - 1;
    if (last + 1 > committed_mark && newest->second < options_.segment_bytes) {
      fd_ = fd;  // continue appending to it
      segment_first_ = newest->first;
      segment_size_ = newest->second;
    } else {
      ::close(fd);
    }
  }
  last = std::max(last, committed_mark);
  last_number_.store(last, std::memory_order_release);
  if (fd_ < 0) {
    // On a full disk the new segment may not be creatable yet. The journal still opens, so
    // what it holds is replayed; Append tries again and, until it can, reports errors (the
    // caller keeps messages in memory and the local link pauses while the disk is full).
    const Status s = StartSegment(last + 1);
    if (!s.ok()) LogWarn("store", "intake journal: no segment to append to yet: " + s.ToString());
  }
  return Status::Ok();
}

Status IntakeJournal::StartSegment(uint64_t first_number) {
  const fs::path path = SegmentPath(first_number);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return platform::ErrnoStatus("creating", path, errno);
  std::lock_guard lock(mu_);
  if (fd_ >= 0) {
    segments_[segment_first_] = segment_size_;
    ::close(fd_);
  }
  fd_ = fd;
  segment_first_ = first_number;
  segment_size_ = 0;
  segments_[first_number] = 0;
  return Status::Ok();
}

Result<uint64_t> IntakeJournal::Append(std::string_view topic, std::string_view payload,
                                       TimeMicros wall_us) {
  const uint64_t number = last_number() + 1;
  const uint64_t body_len = kBodyFixedBytes + topic.size() + payload.size();
  if (body_len > kMaxBodyBytes) {
    append_errors_.fetch_add(1, std::memory_order_relaxed);
    return OutOfRange("message of " + std::to_string(body_len) + " bytes is above the journal's " +
                      std::to_string(kMaxBodyBytes) + "-byte entry limit");
  }
  if (segment_size_ >= options_.segment_bytes || fd_ < 0) {
    const Status s = StartSegment(number);
    if (!s.ok()) {
      append_errors_.fetch_add(1, std::memory_order_relaxed);
      return s;
    }
  }
  char header[kHeaderBytes];
  PutU64(header + kFrameBytes, number);
  PutU64(header + kFrameBytes + 8, static_cast<uint64_t>(wall_us));
  PutU32(header + kFrameBytes + 16, static_cast<uint32_t>(topic.size()));
  uint32_t crc = Crc32cUpdate(kCrc32cInit, header + kFrameBytes, kBodyFixedBytes);
  crc = Crc32cUpdate(crc, topic.data(), topic.size());
  crc = Crc32cUpdate(crc, payload.data(), payload.size());
  PutU32(header, static_cast<uint32_t>(body_len));
  PutU32(header + 4, Crc32cFinish(crc));

  iovec iov[3] = {{header, kHeaderBytes},
                  {const_cast<char*>(topic.data()), topic.size()},
                  {const_cast<char*>(payload.data()), payload.size()}};
  const size_t total = kHeaderBytes + topic.size() + payload.size();
  size_t written = 0;
  int first_iov = 0;
  while (written < total) {
    const ssize_t w = ::writev(fd_, iov + first_iov, 3 - first_iov);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : EIO;
      // Cut a partial entry off, so the next one starts on a boundary.
      if (written > 0 && ::ftruncate(fd_, static_cast<off_t>(segment_size_)) != 0) {
        ::close(fd_);
        fd_ = -1;  // the next Append starts a fresh segment
      }
      append_errors_.fetch_add(1, std::memory_order_relaxed);
      return platform::ErrnoStatus("appending to", SegmentPath(segment_first_), err);
    }
    written += static_cast<size_t>(w);
    // Advance the iovecs past what was written (a short write is rare: a signal, a full disk).
    size_t skip = static_cast<size_t>(w);
    while (first_iov < 3 && skip >= iov[first_iov].iov_len) skip -= iov[first_iov++].iov_len;
    if (first_iov < 3) {
      iov[first_iov].iov_base = static_cast<char*>(iov[first_iov].iov_base) + skip;
      iov[first_iov].iov_len -= skip;
    }
  }
  segment_size_ += total;
  appended_.fetch_add(1, std::memory_order_relaxed);
  last_number_.store(number, std::memory_order_release);
  return number;
}

bool IntakeJournal::ReadSegment(uint64_t& want, uint64_t upto, size_t max_entries, size_t max_bytes,
                                size_t& bytes, std::vector<IntakeEntry>& out, bool& damaged) {
  SegmentCursor cursor(read_fd_);
  IntakeEntry entry;
  uint64_t size = 0;
  while (want <= upto && out.size() < max_entries && bytes < max_bytes) {
    if (!cursor.Next(read_offset_, &entry, &size, &damaged)) return true;
    if (entry.number != read_next_) {
      damaged = true;
      return true;
    }
    read_offset_ += size;
    ++read_next_;
    if (entry.number >= want) {
      bytes += entry.payload.size() + entry.topic.size();
      want = entry.number + 1;
      out.push_back(std::move(entry));
    }
  }
  return false;
}

uint64_t IntakeJournal::SegmentAfter(uint64_t first) const {
  std::lock_guard lock(mu_);
  auto it = segments_.upper_bound(first);
  return it != segments_.end() ? it->first : 0;
}

Result<std::vector<IntakeEntry>> IntakeJournal::ReadAfter(uint64_t after, uint64_t upto,
                                                          size_t max_entries, size_t max_bytes) {
  std::vector<IntakeEntry> out;
  upto = std::min(upto, last_number());
  size_t bytes = 0;
  uint64_t want = after + 1;
  while (want <= upto && out.size() < max_entries && bytes < max_bytes) {
    if (read_fd_ < 0 || read_next_ != want) {
      // (Re)position: the newest segment starting at or below `want`, from its start.
      uint64_t first = 0;
      {
        std::lock_guard lock(mu_);
        auto it = segments_.upper_bound(want);
        if (it == segments_.begin()) {
          if (it == segments_.end()) break;
          first = it->first;  // `want` was released or lost: resume at the oldest on disk
        } else {
          first = std::prev(it)->first;
        }
      }
      if (read_fd_ >= 0) ::close(read_fd_);
      const fs::path path = SegmentPath(first);
      read_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (read_fd_ < 0) return platform::ErrnoStatus("opening", path, errno);
      read_segment_ = first;
      read_next_ = first;
      read_offset_ = 0;
      if (first > want) want = first;
    }
    bool damaged = false;
    if (!ReadSegment(want, upto, max_entries, max_bytes, bytes, out, damaged)) break;  // a limit
    // The end of this segment (or damage): go on in the next one.
    const uint64_t next_first = SegmentAfter(read_segment_);
    if (next_first == 0) break;  // the writer's segment: nothing more yet
    if (damaged || next_first != read_next_) {
      damaged_segments_.fetch_add(1, std::memory_order_relaxed);
      LogError("store", "intake journal segment " + SegmentPath(read_segment_).string() +
                            " is damaged after entry " + std::to_string(read_next_ - 1) +
                            "; entries up to " + std::to_string(next_first - 1) + " are lost");
    }
    ::close(read_fd_);
    read_fd_ = -1;
    want = std::max(want, next_first);
  }
  return out;
}

void IntakeJournal::Release(uint64_t mark) {
  std::lock_guard lock(mu_);
  while (segments_.size() > 1) {
    auto oldest = segments_.begin();
    const uint64_t next_first = std::next(oldest)->first;
    if (next_first - 1 > mark || oldest->first == segment_first_) return;
    const fs::path path = SegmentPath(oldest->first);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      LogWarn("store",
              "intake journal: cannot delete " + path.string() + ": " + std::strerror(errno));
      return;
    }
    segments_.erase(oldest);
  }
}

IntakeJournalStats IntakeJournal::Stats() const {
  IntakeJournalStats s;
  std::lock_guard lock(mu_);
  s.segments = segments_.size();
  for (const auto& [first, size] : segments_) s.bytes += first == segment_first_ ? 0 : size;
  s.bytes += segment_size_;  // read racily: a figure for status, not an invariant
  s.appended = appended_.load(std::memory_order_relaxed);
  s.append_errors = append_errors_.load(std::memory_order_relaxed);
  s.damaged_segments = damaged_segments_.load(std::memory_order_relaxed);
  s.first_number = segments_.empty() ? 0 : segments_.begin()->first;
  s.last_number = last_number();
  return s;
}

}  // namespace weir::store
