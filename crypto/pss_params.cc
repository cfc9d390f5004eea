#include "crypto/pss_params.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include <memory>

#include "crypto/ossl.h"

namespace trustgate::crypto::internal {
namespace {

using UniquePssParams =
    std::unique_ptr<RSA_PSS_PARAMS, OsslDeleter<RSA_PSS_PARAMS_free>>;
using UniqueAlgor = std::unique_ptr<X509_ALGOR, OsslDeleter<X509_ALGOR_free>>;

bool IsNullOrAbsent(const ASN1_TYPE* t) {
  return t == nullptr || ASN1_TYPE_get(t) == V_ASN1_NULL;
}

}  // namespace

int GoPssHashNid(const X509_ALGOR* alg) {
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&oid, &ptype, &pval, alg);
  if (ptype != V_ASN1_SEQUENCE || pval == nullptr) {
    return NID_undef;
  }
  const auto* seq = static_cast<const ASN1_STRING*>(pval);
  const unsigned char* p = ASN1_STRING_get0_data(seq);
  UniquePssParams params(
      d2i_RSA_PSS_PARAMS(nullptr, &p, ASN1_STRING_length(seq)));
  ERR_clear_error();
  if (!params || params->hashAlgorithm == nullptr ||
      params->maskGenAlgorithm == nullptr || params->saltLength == nullptr) {
    return NID_undef;
  }
  if (!IsNullOrAbsent(params->hashAlgorithm->parameter) ||
      OBJ_obj2nid(params->maskGenAlgorithm->algorithm) != NID_mgf1) {
    return NID_undef;
  }
  const ASN1_TYPE* mgf_param = params->maskGenAlgorithm->parameter;
  if (mgf_param == nullptr || ASN1_TYPE_get(mgf_param) != V_ASN1_SEQUENCE) {
    return NID_undef;
  }
  const unsigned char* q = mgf_param->value.sequence->data;
  UniqueAlgor mgf_hash(
      d2i_X509_ALGOR(nullptr, &q, mgf_param->value.sequence->length));
  ERR_clear_error();
  if (!mgf_hash || !IsNullOrAbsent(mgf_hash->parameter) ||
      OBJ_cmp(mgf_hash->algorithm, params->hashAlgorithm->algorithm) != 0) {
    return NID_undef;
  }
  if (params->trailerField != nullptr &&
      ASN1_INTEGER_get(params->trailerField) != 1) {
    ERR_clear_error();
    return NID_undef;
  }
  const long salt = ASN1_INTEGER_get(params->saltLength);
  ERR_clear_error();
  const int hash = OBJ_obj2nid(params->hashAlgorithm->algorithm);
  switch (hash) {
    case NID_sha256:
      return salt == 32 ? hash : NID_undef;
    case NID_sha384:
      return salt == 48 ? hash : NID_undef;
    case NID_sha512:
      return salt == 64 ? hash : NID_undef;
    default:
      return NID_undef;
  }
}

}  // namespace trustgate::crypto::internal
