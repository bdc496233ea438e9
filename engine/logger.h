// The component loggers: spdlog loggers named by the component that logs
// ("engine", "projector", "http", "access", "ticketd", ...). ticketd gives
// them one sink, pattern and level (ops/app/log.h: UTC timestamp, level,
// component); in a program that set up nothing they are spdlog's default
// logger (stderr) under the component's name. Log operating events and
// errors here, never a secret, a token or a request's query string.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace tl {

inline std::shared_ptr<spdlog::logger> Logger(const std::string& component) {
  if (std::shared_ptr<spdlog::logger> l = spdlog::get(component)) return l;
  std::shared_ptr<spdlog::logger> made = spdlog::default_logger()->clone(component);
  try {
    spdlog::register_logger(made);
  } catch (const spdlog::spdlog_ex&) {  // another thread registered it first
    return spdlog::get(component);
  }
  return made;
}

}  // namespace tl
