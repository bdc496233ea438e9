// Writes the binary seed corpora from the text seeds (tests/fuzz/seeds/):
// real ledger exports (`ticketctl export` of `ticketctl simulate` runs) and a
// commands log written by hand in the protobuf JSON mapping. Run once after
// changing the text seeds; its output is committed:
//   build-fuzz/fuzz_make_seeds tests/fuzz
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "api/jwt.h"
#include "api/pass.h"
#include "engine/core/schema.h"
#include "engine/core/step.h"
#include "engine/log/record_frame.h"

namespace {

template <typename Message>
std::vector<tl::LogRecord> Records(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(1);
  }
  std::vector<tl::LogRecord> out;
  std::string line;
  while (std::getline(in, line)) {
    Message m;
    if (!google::protobuf::util::JsonStringToMessage(line, &m).ok()) {
      std::fprintf(stderr, "%s: not a %s: %s\n", path.c_str(), m.GetTypeName().c_str(),
                   line.c_str());
      std::exit(1);
    }
    out.push_back({0, m.campaign_id(), tl::EncodeDeterministic(m)});
  }
  return out;
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

std::vector<tl::LogRecord> Slice(const std::vector<tl::LogRecord>& v, size_t from, size_t n) {
  return {v.begin() + static_cast<long>(from), v.begin() + static_cast<long>(from + n)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s tests/fuzz\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const auto drop = Records<tl::pb::Event>(dir + "/seeds/ledger_drop1.ndjson");
  const auto late = Records<tl::pb::Event>(dir + "/seeds/ledger_late.ndjson");
  const auto commands = Records<tl::pb::Command>(dir + "/seeds/commands.ndjson");

  // record: single record values, events and commands.
  for (size_t i : {0, 1, 4, 5, 20, 30, 40, 46})
    Write(dir + "/corpus/record/drop1-event-" + std::to_string(i), drop[i].value);
  for (size_t i : {11, 21, 22})
    Write(dir + "/corpus/record/late-event-" + std::to_string(i), late[i].value);
  for (size_t i = 0; i < commands.size(); ++i)
    Write(dir + "/corpus/record/command-" + std::to_string(i), commands[i].value);

  // chunk: chunks as the embedded log stores them.
  Write(dir + "/corpus/chunk/empty", tl::EncodeChunk({}));
  Write(dir + "/corpus/chunk/drop1-1", tl::EncodeChunk(Slice(drop, 0, 1)));
  Write(dir + "/corpus/chunk/drop1-5", tl::EncodeChunk(Slice(drop, 4, 5)));
  Write(dir + "/corpus/chunk/commands-3", tl::EncodeChunk(Slice(commands, 0, 3)));

  // ledger: a reading-options byte, then the partition as one chunk.
  auto ledger = [&](const std::string& name, uint8_t options, std::vector<tl::LogRecord> r) {
    Write(dir + "/corpus/ledger/" + name,
          std::string(1, static_cast<char>(options)) + tl::EncodeChunk(r));
  };
  ledger("drop1", 0x13, drop);
  ledger("late", 0x2a, late);
  auto repeated = Slice(drop, 0, 10);  // a producer retry: records 4..6 again
  repeated.insert(repeated.begin() + 7, drop.begin() + 4, drop.begin() + 7);
  ledger("drop1-repeat", 0x31, repeated);
  auto gap = Slice(drop, 0, 6);
  gap.erase(gap.begin() + 3);
  ledger("drop1-gap", 0x02, gap);

  // commands: the same framing, records of the commands log.
  Write(dir + "/corpus/commands/all", std::string(1, '\0') + tl::EncodeChunk(commands));
  Write(dir + "/corpus/commands/shop",
        std::string(1, '\1') + tl::EncodeChunk(Slice(commands, 0, 14)));
  Write(dir + "/corpus/commands/late",
        std::string(1, '\2') + tl::EncodeChunk(Slice(commands, 18, 3)));

  // jwt: a mode byte, then the token, or its parts (jwt_fuzz.cc).
  const std::string secret = "fuzz-jwt-secret-0123456789abcdef";
  const int64_t exp = 1'767'225'600 + 3600;
  Write(dir + "/corpus/jwt/token-user",
        std::string(1, 0) + tl::api::MintJwt({"alice", false, exp, false}, secret));
  Write(dir + "/corpus/jwt/token-admin",
        std::string(1, 0) + tl::api::MintJwt({"ops", true, exp, false}, secret));
  Write(dir + "/corpus/jwt/token-shop",
        std::string(1, 0) + tl::api::MintJwt({"shop-1", false, exp, true}, secret));
  Write(dir + "/corpus/jwt/token-expired",
        std::string(1, 0) + tl::api::MintJwt({"bob", false, 1000, false}, secret));
  Write(dir + "/corpus/jwt/signed-nbf",
        "\1{\"alg\":\"HS256\",\"typ\":\"JWT\"}\n{\"sub\":\"carol\",\"exp\":1767229200.5,\"nbf\":"
        "1767225000,\"role\":\"admin\"}");
  Write(dir + "/corpus/jwt/signed-none",
        "\1{\"alg\":\"none\"}\n{\"sub\":\"mallory\",\"exp\":9e18}");
  const tl::api::PassSigner signer{tl::api::PassKey::Dev(), "ticketledger", 900};
  const std::string pass = signer.Mint("summer", 7, "alice", 1'767'225'600);
  Write(dir + "/corpus/jwt/pass", std::string("\2") + pass);
  Write(dir + "/corpus/jwt/pass-expired",
        std::string("\2") + signer.Mint("summer", 8, "bob", 1000));
  Write(
      dir + "/corpus/jwt/signed-pass",
      "\3{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"" + tl::api::PassKey::Dev().kid() +
          "\"}\n{\"iss\":\"ticketledger\",\"sub\":\"alice\",\"campaign\":\"summer\",\"position\":7,"
          "\"jti\":\"summer:7\",\"iat\":1767225600,\"exp\":1767226500}");
  Write(dir + "/corpus/jwt/pass-jwks",
        std::string("\4") + pass + "\n" + tl::api::PassKey::Dev().Jwks().dump());
  return 0;
}
