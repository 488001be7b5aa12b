#pragma once

#include <memory>
#include <string_view>

using EVP_PKEY = struct evp_pkey_st;
using EVP_MD = struct evp_md_st;

namespace eso::webhook {

/// An RSA public key (OpenSSL's EVP_PKEY), shared by the caches and the verifications using it.
using PublicKey = std::shared_ptr<EVP_PKEY>;

/// Takes ownership of `key` (freed with EVP_PKEY_free); nullptr stays empty.
PublicKey adopt_public_key(EVP_PKEY* key);

/// True when `signature` is a valid RSASSA-PKCS1-v1_5 signature (RFC 8017 §8.2) of `data` with
/// the digest `md` (SHA-1 for SNS SignatureVersion 1, SHA-256 for JWT RS256 and SNS version 2).
bool rsa_pkcs1_verify(EVP_PKEY* key, const EVP_MD* md, std::string_view data,
                      std::string_view signature);

/// The number of bits of an RSA key's modulus, 0 for another kind of key.
int rsa_bits(EVP_PKEY* key);

}  // namespace eso::webhook
