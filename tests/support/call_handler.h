// Calls a route table's handler as the transport would — a plain request
// value, no socket — and waits (10 s at most) for its answer.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "api/http/message.h"

namespace tl::testing {

inline http::Response CallHandler(const http::Handler& handler, std::string method,
                                  std::string target, http::Headers headers = {},
                                  std::string body = "") {
  http::Request req;
  req.method = std::move(method);
  size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  req.headers = std::move(headers);
  req.body = std::move(body);
  req.remote_addr = "127.0.0.1";
  auto done = std::make_shared<std::promise<http::Response>>();
  auto answer = done->get_future();
  handler(std::move(req), [done](http::Response r) { done->set_value(std::move(r)); });
  EXPECT_EQ(answer.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  return answer.get();
}

}  // namespace tl::testing
