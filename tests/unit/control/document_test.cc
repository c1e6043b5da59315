// Signed documents: the envelope, the signature over exact bytes, and each refusal's reason code.
#include "agent/control/document.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace weir::control {
namespace {

using weir::testing::ReadFileBytes;
using weir::testing::TempDir;
using weir::testing::WriteFileBytes;

const std::filesystem::path kVectors = WEIR_CONTROL_VECTORS;

struct Signer {
  PrivateKey key = *PrivateKey::Generate();
  KeyRing ring = KeyRing::Of({key.public_key()});
  std::string Envelope(const std::string& payload) { return *SignEnvelope(key, payload); }
  std::string Doc(const std::string& target, uint64_t version,
                  const std::string& config = R"({"log_level":"debug"})") {
    return Envelope(*MakePayload(*ParseTarget(target), version, config, 0, std::nullopt));
  }
};

std::string Code(const Opened& o) { return o.ok() ? "ok" : o.refusal.code; }

TEST(Ed25519Test, SignThenVerifyAndPemRoundTrip) {
  auto key = PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  auto sig = key->Sign("hello");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(key->public_key().Verify("hello", *sig));
  EXPECT_FALSE(key->public_key().Verify("hellp", *sig));
  auto again = PrivateKey::FromPem(key->ToPem());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->Sign("hello"), *sig);  // Ed25519 is deterministic
  auto pub = PublicKey::FromPem(key->public_key().ToPem());
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->kid(), key->public_key().kid());
  EXPECT_EQ(pub->kid().size(), 16u);
}

TEST(Ed25519Test, Base64IsStrict) {
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  EXPECT_EQ(*Base64Decode("YWI="), "ab");
  EXPECT_EQ(*Base64Decode("YWJj"), "abc");
  EXPECT_EQ(*Base64Decode(""), "");
  EXPECT_FALSE(Base64Decode("YWI").ok());
  EXPECT_FALSE(Base64Decode("Y=I=").ok());
  EXPECT_FALSE(Base64Decode("YW I").ok());
}

TEST(DocumentTest, OpensAGoodDocument) {
  Signer s;
  Opened o = OpenEnvelope(s.Doc("device:gw-17", 7), s.ring, true);
  ASSERT_TRUE(o.ok()) << o.refusal.detail;
  EXPECT_EQ(o.document->target.ToString(), "device:gw-17");
  EXPECT_EQ(o.document->version, 7u);
  EXPECT_EQ(o.document->kid, s.key.public_key().kid());
  EXPECT_EQ(o.document->config_json, R"({"log_level":"debug"})");
  EXPECT_EQ(o.document->sha256, Sha256Hex(o.document->payload));
}

TEST(DocumentTest, CheckedInVectorFromOpensslVerifies) {
  auto pub = PublicKey::FromPem(ReadFileBytes(kVectors / "test_key.pub"));
  ASSERT_TRUE(pub.ok());
  const std::string payload = ReadFileBytes(kVectors / "payload.json");
  EXPECT_TRUE(pub->Verify(payload, ReadFileBytes(kVectors / "payload.sig")));
  Opened o = OpenEnvelope(ReadFileBytes(kVectors / "envelope.json"), KeyRing::Of({*pub}), true);
  ASSERT_TRUE(o.ok()) << o.refusal.detail;
  EXPECT_EQ(o.document->kid, "86dc84818311c817");
  EXPECT_EQ(o.document->version, 1764064800123u);
  // weir's own signature with the same key is byte-identical (deterministic Ed25519).
  auto key = PrivateKey::FromPem(ReadFileBytes(kVectors / "test_key.pem"));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key->Sign(payload), ReadFileBytes(kVectors / "payload.sig"));
}

TEST(DocumentTest, OpensslCliAcceptsWeirSignature) {
  if (std::system("openssl version > /dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl CLI";
  TempDir dir;
  Signer s;
  const std::string payload = *MakePayload(*ParseTarget("group:plant-a"), 3, "{}", 0, {});
  WriteFileBytes(dir / "p.json", payload);
  WriteFileBytes(dir / "p.sig", *s.key.Sign(payload));
  WriteFileBytes(dir / "k.pub", s.key.public_key().ToPem());
  const std::string cmd = "openssl pkeyutl -verify -rawin -pubin -inkey " +
                          (dir / "k.pub").string() + " -in " + (dir / "p.json").string() +
                          " -sigfile " + (dir / "p.sig").string() + " > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  WriteFileBytes(dir / "p.json", payload + " ");
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

TEST(DocumentTest, TamperedPayloadByteIsBadSignature) {
  Signer s;
  auto env = nlohmann::json::parse(s.Doc("device:gw-17", 7));
  std::string payload = *Base64Decode(env["payload"].get<std::string>());
  payload[payload.find("debug")] = 'D';
  env["payload"] = Base64Encode(payload);
  EXPECT_EQ(Code(OpenEnvelope(env.dump(), s.ring, true)), kBadSignature);
}

TEST(DocumentTest, TamperedSignatureIsBadSignature) {
  Signer s;
  auto env = nlohmann::json::parse(s.Doc("device:gw-17", 7));
  std::string sig = *Base64Decode(env["sig"].get<std::string>());
  sig[0] ^= 1;
  env["sig"] = Base64Encode(sig);
  EXPECT_EQ(Code(OpenEnvelope(env.dump(), s.ring, true)), kBadSignature);
}

TEST(DocumentTest, UnknownKeyIsRefused) {
  Signer s;
  Signer other;
  EXPECT_EQ(Code(OpenEnvelope(s.Doc("device:gw-17", 7), other.ring, true)), kUnknownKid);
}

TEST(DocumentTest, SignatureIsCheckedBeforeThePayloadIsParsed) {
  Signer s;
  Signer other;
  // A payload that is not even JSON: with a wrong key the refusal is the signature, not the parse.
  nlohmann::json env = {{"weir_signed", 1},
                        {"kid", s.key.public_key().kid()},
                        {"payload", Base64Encode("{{{ not json")},
                        {"sig", Base64Encode(*other.key.Sign("{{{ not json"))}};
  EXPECT_EQ(Code(OpenEnvelope(env.dump(), s.ring, true)), kBadSignature);
  env["sig"] = Base64Encode(*s.key.Sign("{{{ not json"));
  EXPECT_EQ(Code(OpenEnvelope(env.dump(), s.ring, true)), kBadPayload);
}

TEST(DocumentTest, MalformedEnvelopesAreRefusedNotFatal) {
  Signer s;
  for (const std::string& bad : std::vector<std::string>{
           "", "[]", "not json", R"({"weir_signed":2})", R"({"weir_signed":1})",
           R"({"weir_signed":1,"payload":"%%%%"})",
           R"({"weir_signed":1,"payload":"e30=","kid":"x"})", std::string(1000, '[')}) {
    EXPECT_EQ(Code(OpenEnvelope(bad, s.ring, true)), kBadEnvelope) << bad;
  }
  EXPECT_EQ(Code(OpenEnvelope(std::string(kMaxEnvelopeBytes + 1, ' '), s.ring, true)), kTooLarge);
}

TEST(DocumentTest, UnsignedOnlyWhenAllowed) {
  Signer s;
  const std::string payload = *MakePayload(*ParseTarget("device:gw-17"), 1, "{}", 0, {});
  const std::string env =
      nlohmann::json{{"weir_signed", 1}, {"payload", Base64Encode(payload)}}.dump();
  EXPECT_EQ(Code(OpenEnvelope(env, s.ring, true)), kUnsigned);
  Opened o = OpenEnvelope(env, s.ring, false);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o.document->kid, "");
}

TEST(DocumentTest, PayloadFieldsAreChecked) {
  Signer s;
  for (
      const std::string bad :
      {R"({"kind":"other","target":{"device":"a"},"version":1,"config":{}})",
       R"({"kind":"weir.config.v1","target":{"host":"a"},"version":1,"config":{}})",
       R"({"kind":"weir.config.v1","target":{"device":"a"},"version":0,"config":{}})",
       R"({"kind":"weir.config.v1","target":{"device":"a"},"version":-1,"config":{}})",
       R"({"kind":"weir.config.v1","target":{"device":"a"},"version":1,"config":[]})",
       R"({"kind":"weir.config.v1","target":{"device":"a"},"version":1})",
       R"({"kind":"weir.config.v1","target":{"device":"a"},"version":1,"expires_at":"soon","config":{}})"}) {
    EXPECT_EQ(Code(OpenEnvelope(s.Envelope(bad), s.ring, true)), kBadPayload) << bad;
  }
}

TEST(DocumentTest, KeyRingLoadsPubFilesAndSkipsBadOnes) {
  TempDir dir;
  Signer a;
  Signer b;
  WriteFileBytes(dir / "a.pub", a.key.public_key().ToPem());
  WriteFileBytes(dir / "b.pub", b.key.public_key().ToPem());
  WriteFileBytes(dir / "junk.pub", "not a key");
  WriteFileBytes(dir / "a.pem", a.key.ToPem());  // not *.pub: ignored
  KeyRing ring = KeyRing::Load(dir.path());
  EXPECT_EQ(ring.size(), 2u);
  EXPECT_NE(ring.Find(a.key.public_key().kid()), nullptr);
  EXPECT_NE(ring.Find(b.key.public_key().kid()), nullptr);
  ASSERT_EQ(ring.notes().size(), 1u);
  EXPECT_NE(ring.notes()[0].find("junk.pub"), std::string::npos);
  EXPECT_EQ(KeyRing::Load(dir / "missing").size(), 0u);
}

}  // namespace
}  // namespace weir::control
