// protobuf logs every string field that is not UTF-8 when it refuses to
// parse one: a refusal the targets check themselves, so the log is muted.
#pragma once

#include <google/protobuf/stubs/logging.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}
