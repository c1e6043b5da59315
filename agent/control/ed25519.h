// Ed25519 for fleet documents: key generation, signing, verification over exact bytes, the key id
// (first 16 hex digits of SHA-256 of the raw 32-byte public key) and base64. The only place weir
// calls OpenSSL's signature API (OpenSSL 3 EVP, one-shot EVP_DigestSign/Verify with md NULL, as
// EVP_SIGNATURE-ED25519(7) requires).
//
// Keys are PEM: private keys PKCS#8 ("BEGIN PRIVATE KEY"), public keys SubjectPublicKeyInfo
// ("BEGIN PUBLIC KEY"), the forms `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`
// write, so an operator can use the openssl CLI or weir's own commands interchangeably.
//
// Thread-safety: PublicKey/PrivateKey are immutable after creation and may be shared between
// threads; the free functions share no state. Nothing here does I/O.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "agent/core/status.h"

namespace weir::control {

class PublicKey {
 public:
  // Parses a PEM SubjectPublicKeyInfo holding an Ed25519 key. InvalidArgument otherwise.
  static Result<PublicKey> FromPem(std::string_view pem);
  // The raw 32-byte key.
  const std::string& raw() const { return raw_; }
  // "3f9c1a2b7d4e8f01": first 8 bytes of SHA-256(raw) in lower-case hex.
  const std::string& kid() const { return kid_; }
  std::string ToPem() const;
  // True when `sig` is a valid Ed25519 signature of exactly `message` by this key.
  bool Verify(std::string_view message, std::string_view sig) const;

 private:
  friend class PrivateKey;
  std::string raw_;
  std::string kid_;
};

class PrivateKey {
 public:
  static Result<PrivateKey> Generate();
  // Parses a PEM PKCS#8 Ed25519 private key (unencrypted). InvalidArgument otherwise.
  static Result<PrivateKey> FromPem(std::string_view pem);
  std::string ToPem() const;
  PublicKey public_key() const { return public_; }
  // The 64-byte signature of `message`.
  Result<std::string> Sign(std::string_view message) const;

 private:
  std::string raw_;  // the 32-byte seed
  PublicKey public_;
};

// The key id of a raw 32-byte public key (see PublicKey::kid).
std::string KeyIdOf(std::string_view raw_public_key);
// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// Standard base64 with padding (RFC 4648 §4).
std::string Base64Encode(std::string_view bytes);
// Strict: standard alphabet, padded, no whitespace. InvalidArgument otherwise.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace weir::control
