#include "webhook/verify/public_key.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

namespace eso::webhook {

PublicKey adopt_public_key(EVP_PKEY* key) {
  if (key == nullptr) return nullptr;
  return PublicKey(key, EVP_PKEY_free);
}

bool rsa_pkcs1_verify(EVP_PKEY* key, const EVP_MD* md, std::string_view data,
                      std::string_view signature) {
  if (key == nullptr || md == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx) return false;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key) != 1) return false;
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
  const int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(data.data()), data.size());
  // A failed verification leaves its reasons on this thread's error queue; they are not ours
  // to keep for whatever OpenSSL call the thread makes next.
  ERR_clear_error();
  return rc == 1;
}

int rsa_bits(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) return 0;
  return EVP_PKEY_get_bits(key);
}

}  // namespace eso::webhook
