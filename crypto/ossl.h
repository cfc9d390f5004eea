#pragma once

// OpenSSL handles live only in these unique_ptr aliases.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

namespace trustgate::crypto {

template <auto Fn>
struct OsslDeleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};

using UniqueX509 = std::unique_ptr<X509, OsslDeleter<X509_free>>;
using UniqueEvpPkey = std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY_free>>;
using UniqueEvpMdCtx =
    std::unique_ptr<EVP_MD_CTX, OsslDeleter<EVP_MD_CTX_free>>;
using UniqueEvpPkeyCtx =
    std::unique_ptr<EVP_PKEY_CTX, OsslDeleter<EVP_PKEY_CTX_free>>;
using UniqueBio = std::unique_ptr<BIO, OsslDeleter<BIO_free_all>>;
using UniqueBignum = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;
using UniqueEcdsaSig = std::unique_ptr<ECDSA_SIG, OsslDeleter<ECDSA_SIG_free>>;

}  // namespace trustgate::crypto
