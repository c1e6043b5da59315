#include "agent/control/ed25519.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>

namespace weir::control {
namespace {

constexpr size_t kRawKeyBytes = 32;
constexpr size_t kSignatureBytes = 64;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

Bio MemBio(std::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

Result<std::string> RawOf(EVP_PKEY* key, bool private_part) {
  std::string raw(kRawKeyBytes, '\0');
  size_t len = raw.size();
  auto* p = reinterpret_cast<unsigned char*>(raw.data());
  const int ok = private_part ? EVP_PKEY_get_raw_private_key(key, p, &len)
                              : EVP_PKEY_get_raw_public_key(key, p, &len);
  if (ok != 1 || len != kRawKeyBytes) return Internal("cannot read the raw Ed25519 key");
  return raw;
}

Pkey PublicPkey(const std::string& raw) {
  return Pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
}

Pkey PrivatePkey(const std::string& raw) {
  return Pkey(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  std::array<unsigned char, 32> md{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr);
  return Hex(md.data(), len);
}

std::string KeyIdOf(std::string_view raw_public_key) {
  return Sha256Hex(raw_public_key).substr(0, 16);
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  Bio bio = MemBio(pem);
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return InvalidArgument("not a PEM Ed25519 public key (BEGIN PUBLIC KEY)");
  }
  WEIR_ASSIGN_OR_RETURN(std::string raw, RawOf(key.get(), false));
  PublicKey out;
  out.kid_ = KeyIdOf(raw);
  out.raw_ = std::move(raw);
  return out;
}

std::string PublicKey::ToPem() const {
  Pkey key = PublicPkey(raw_);
  Bio bio(BIO_new(BIO_s_mem()));
  if (!key || !bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) return "";
  return BioText(bio.get());
}

bool PublicKey::Verify(std::string_view message, std::string_view sig) const {
  if (sig.size() != kSignatureBytes || raw_.size() != kRawKeyBytes) return false;
  Pkey key = PublicPkey(raw_);
  MdCtx ctx(EVP_MD_CTX_new());
  if (!key || !ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

Result<PrivateKey> PrivateKey::Generate() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return Internal("Ed25519 key generation failed");
  PrivateKey out;
  WEIR_ASSIGN_OR_RETURN(out.raw_, RawOf(key.get(), true));
  WEIR_ASSIGN_OR_RETURN(out.public_.raw_, RawOf(key.get(), false));
  out.public_.kid_ = KeyIdOf(out.public_.raw_);
  return out;
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  Bio bio = MemBio(pem);
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return InvalidArgument("not a PEM Ed25519 private key (BEGIN PRIVATE KEY)");
  }
  PrivateKey out;
  WEIR_ASSIGN_OR_RETURN(out.raw_, RawOf(key.get(), true));
  WEIR_ASSIGN_OR_RETURN(out.public_.raw_, RawOf(key.get(), false));
  out.public_.kid_ = KeyIdOf(out.public_.raw_);
  return out;
}

std::string PrivateKey::ToPem() const {
  Pkey key = PrivatePkey(raw_);
  Bio bio(BIO_new(BIO_s_mem()));
  if (!key || !bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return "";
  }
  return BioText(bio.get());
}

Result<std::string> PrivateKey::Sign(std::string_view message) const {
  Pkey key = PrivatePkey(raw_);
  MdCtx ctx(EVP_MD_CTX_new());
  if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return Internal("Ed25519 signing could not start");
  }
  std::string sig(kSignatureBytes, '\0');
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != kSignatureBytes) {
    return Internal("Ed25519 signing failed");
  }
  return sig;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return InvalidArgument("base64: length is not a multiple of 4");
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i + pad < text.size(); ++i) {
    const char c = text[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '/';
    if (!alpha) return InvalidArgument("base64: bad character or padding");
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) return InvalidArgument("base64: cannot decode");
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace weir::control
