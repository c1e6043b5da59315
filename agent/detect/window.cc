// Event-time windows with a watermark; see window.h.
#include "agent/detect/window.h"

#include <algorithm>
#include <cmath>

namespace weir::detect {
namespace {

// Floor division that rounds toward negative infinity (event times before 1970 stay correct).
TimeMicros FloorDiv(TimeMicros a, TimeMicros b) {
  TimeMicros q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

int WindowAggregator::OpenWindowsFor(const WindowConfig& c) {
  if (c.kind == WindowKind::kCount) return 1;
  const TimeMicros size = std::max<TimeMicros>(1, c.size_us);
  const TimeMicros hop =
      c.kind == WindowKind::kSliding && c.hop_us > 0 ? std::min(c.hop_us, size) : size;
  const TimeMicros lateness = std::max<TimeMicros>(0, c.allowed_lateness_us);
  const TimeMicros open = (size + hop - 1) / hop + (lateness + hop - 1) / hop;
  return static_cast<int>(std::clamp<TimeMicros>(open, 1, kMaxOpen));
}

WindowAggregator::WindowAggregator(const WindowConfig& config) : config_(config) {
  static_assert(sizeof(Slot) == kBytesPerOpenWindow);
  slots_.reserve(static_cast<size_t>(OpenWindowsFor(config_)));
}

void WindowAggregator::Fold(Slot& s, TimeMicros t, double v) {
  ++s.count;
  if (s.count == 1) {
    s.min = s.max = s.mean = v;
    s.m2 = 0;
  } else {
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    const double d = v - s.mean;
    s.mean += d / static_cast<double>(s.count);
    s.m2 += d * (v - s.mean);
  }
  s.last_t = std::max(s.last_t, t);
}

void WindowAggregator::Close(Slot& s, std::vector<WindowResult>* closed) {
  if (s.count > 0 && closed != nullptr) {
    WindowResult r;
    r.start_us = s.start;
    r.end_us = s.end;
    r.stats = {s.count, s.min, s.max, s.mean,
               s.count > 1 ? std::sqrt(s.m2 / static_cast<double>(s.count - 1)) : 0.0};
    closed->push_back(r);
  }
  s = Slot{};
}

WindowAggregator::Slot* WindowAggregator::Find(TimeMicros start) {
  for (Slot& s : slots_) {
    if (s.open && s.start == start) return &s;
  }
  return nullptr;
}

WindowAggregator::Slot* WindowAggregator::Open(TimeMicros start, TimeMicros end,
                                               std::vector<WindowResult>* closed) {
  Slot* victim = nullptr;
  for (Slot& s : slots_) {
    if (!s.open) {
      victim = &s;
      break;
    }
    if (victim == nullptr || s.start < victim->start) victim = &s;
  }
  if ((victim == nullptr || victim->open) && slots_.size() < static_cast<size_t>(kMaxOpen)) {
    victim = &slots_.emplace_back();  // no pointer into slots_ is held across this
  } else if (victim->open) {
    ++forced_;
    Close(*victim, closed);
  }
  victim->open = true;
  victim->start = start;
  victim->end = end;
  victim->last_t = start;
  return victim;
}

bool WindowAggregator::Add(TimeMicros t, double value, std::vector<WindowResult>* closed) {
  if (t < watermark_) {
    ++late_;
    return false;
  }
  if (config_.kind == WindowKind::kCount) {
    Slot* s = nullptr;
    for (Slot& slot : slots_) {
      if (slot.open) s = &slot;
    }
    if (s == nullptr) s = Open(t, t, closed);
    Fold(*s, t, value);
    s->end = s->last_t;
    if (s->count >= std::max<uint32_t>(1, config_.count)) Close(*s, closed);
  } else {
    const TimeMicros size = std::max<TimeMicros>(1, config_.size_us);
    const TimeMicros hop = config_.kind == WindowKind::kSliding && config_.hop_us > 0
                               ? std::min(config_.hop_us, size)
                               : size;
    // Every window start s (a multiple of hop) with s <= t < s + size.
    const TimeMicros last = FloorDiv(t, hop) * hop;
    for (TimeMicros start = last; start > t - size; start -= hop) {
      Slot* s = Find(start);
      if (s == nullptr) s = Open(start, start + size, closed);
      Fold(*s, t, value);
    }
  }
  AdvanceWatermark(t - config_.allowed_lateness_us, closed);
  return true;
}

void WindowAggregator::AdvanceWatermark(TimeMicros watermark, std::vector<WindowResult>* closed) {
  if (watermark <= watermark_) return;
  watermark_ = watermark;
  if (config_.kind == WindowKind::kCount) return;  // count windows close on count only
  // Emit in start order so consumers see windows as time advances.
  for (;;) {
    Slot* oldest = nullptr;
    for (Slot& s : slots_) {
      if (s.open && s.end <= watermark_ && (oldest == nullptr || s.start < oldest->start)) {
        oldest = &s;
      }
    }
    if (oldest == nullptr) return;
    Close(*oldest, closed);
  }
}

WindowResult WindowAggregator::Current() const {
  const Slot* newest = nullptr;
  for (const Slot& s : slots_) {
    if (s.open && (newest == nullptr || s.start > newest->start)) newest = &s;
  }
  WindowResult r;
  if (newest == nullptr) return r;
  r.start_us = newest->start;
  r.end_us = newest->end;
  r.stats = {
      newest->count, newest->min, newest->max, newest->mean,
      newest->count > 1 ? std::sqrt(newest->m2 / static_cast<double>(newest->count - 1)) : 0.0};
  return r;
}

}  // namespace weir::detect
