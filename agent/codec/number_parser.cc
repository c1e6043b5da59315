// The bare-number payload parser; see NumberParserOptions in payload_parser.h.
#include "agent/codec/parse_checks.h"
#include "agent/codec/payload_parser.h"

namespace weir::codec {
namespace {

std::string_view TrimSpace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

class NumberParser final : public PayloadParser {
 public:
  explicit NumberParser(NumberParserOptions options) : options_(std::move(options)) {}

  Status Parse(std::string_view payload, const ParseContext& ctx,
               std::vector<Reading>* out) const override {
    WEIR_RETURN_IF_ERROR(internal::CheckPayloadSize(payload, options_.limits));
    const std::string_view text = TrimSpace(payload);
    if (text.empty()) return internal::FieldError("value", "missing (empty payload)");
    WEIR_ASSIGN_OR_RETURN(const double value, internal::ParseDecimal(text, "value"));
    WEIR_ASSIGN_OR_RETURN(const std::string_view sensor,
                          internal::SensorFromTopic(ctx.topic, options_.sensor_topic_segment));
    out->push_back(Reading{std::string(sensor), ctx.now_us, value, 0});
    return Status::Ok();
  }

 private:
  const NumberParserOptions options_;
};

}  // namespace

Result<std::unique_ptr<PayloadParser>> MakeNumberParser(NumberParserOptions options) {
  WEIR_RETURN_IF_ERROR(internal::CheckLimits(options.limits));
  if (options.sensor_topic_segment < kWholeTopic) {
    return InvalidArgument(
        "sensor_topic_segment must be -1 (whole topic) or a segment index, got " +
        std::to_string(options.sensor_topic_segment));
  }
  return std::unique_ptr<PayloadParser>(std::make_unique<NumberParser>(std::move(options)));
}

}  // namespace weir::codec
