#include "ops/app/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"

namespace tl::app {

const std::vector<std::string>& LogLevels() {
  static const std::vector<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                   "error", "critical", "off"};
  return kLevels;
}

absl::Status SetUpLogging(const std::string& program, const std::string& level) {
  const spdlog::level::level_enum lvl = spdlog::level::from_str(level);
  // from_str answers "off" for a name it does not know.
  if (lvl == spdlog::level::off && level != "off")
    return absl::InvalidArgumentError(absl::StrCat("unknown log level '", level, "'"));
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto main_logger = std::make_shared<spdlog::logger>(program, sink);
  spdlog::set_default_logger(main_logger);
  // Loggers made before (tl::Logger clones the default) write to the new sink too.
  spdlog::apply_all(
      [&sink](const std::shared_ptr<spdlog::logger>& l) { l->sinks().assign(1, sink); });
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %n: %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(lvl);
  return absl::OkStatus();
}

}  // namespace tl::app
