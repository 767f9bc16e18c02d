#!/usr/bin/env python3
"""Independent OpenID Federation checks with jwcrypto and PyJWT (libraries no one here wrote).

  oidf.py verify FILE      FILE: {"jwks": {...}, "tokens": [{"token": "...", "typ": "entity-statement+jwt"}, ...]}
                           Verifies every token's signature with both libraries using only the given JWKS
                           (or, for a token with "jwks_from": "self", its own payload's jwks), checks the typ
                           header, prints one JSON object per token, exits 1 on the first failure.
  oidf.py verify-detached FILE
                           FILE: {"jwks": {...}, "signature": "header..sig", "sha256": base64url digest}: verifies
                           a detached-payload JWS over the digest bytes with jwcrypto (and PyJWT, re-attached).
  oidf.py make-chain       Prints {"anchor": id, "anchor_jwks": {...}, "chain": [...], "bad": {...}}: a
                           three-level trust chain (anchor -> intermediate -> leaf) signed with RSA (RS256)
                           and EC (ES256) keys made here, plus broken variants, for ena's validator.
"""
import json
import sys
import time

import jwt as pyjwt
from jwcrypto import jwk, jws


def verify(path):
    data = json.load(open(path))
    for item in data["tokens"]:
        token, typ = item["token"], item["typ"]
        header = pyjwt.get_unverified_header(token)
        if header.get("typ") != typ:
            print(json.dumps({"ok": False, "why": f"typ {header.get('typ')} != {typ}"}))
            sys.exit(1)
        keys = data["jwks"]
        if item.get("jwks_from") == "self":
            keys = pyjwt.decode(token, options={"verify_signature": False})["jwks"]
        keyset = jwk.JWKSet.from_json(json.dumps(keys))
        obj = jws.JWS()
        obj.deserialize(token)
        key = keyset.get_key(header["kid"])
        if key is None:
            print(json.dumps({"ok": False, "why": f"no key {header['kid']}"}))
            sys.exit(1)
        obj.verify(key)  # raises on a bad signature
        pub = pyjwt.PyJWK(key.export_public(as_dict=True))
        claims = pyjwt.decode(token, pub.key, algorithms=[header["alg"]],
                              options={"verify_aud": False, "verify_exp": True, "verify_iat": False})
        print(json.dumps({"ok": True, "typ": typ, "iss": claims.get("iss"), "sub": claims.get("sub")}))


def verify_detached(path):
    import base64
    data = json.load(open(path))
    digest = base64.urlsafe_b64decode(data["sha256"] + "=" * (-len(data["sha256"]) % 4))
    header = pyjwt.get_unverified_header(data["signature"])
    keyset = jwk.JWKSet.from_json(json.dumps(data["jwks"]))
    key = keyset.get_key(header["kid"])
    obj = jws.JWS()
    obj.deserialize(data["signature"])
    # jwcrypto verifies an RFC 7515 appendix F detached payload; PyJWT only accepts detached payloads with
    # RFC 7797 b64=false, which ena's signatures do not use, so PyJWT checks the same signature re-attached.
    obj.verify(key, detached_payload=digest)  # raises on a bad signature
    h, _, s = data["signature"].split(".")
    attached = f"{h}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}.{s}"
    pub = pyjwt.PyJWK(key.export_public(as_dict=True))
    pyjwt.api_jws.PyJWS().decode_complete(attached, pub.key, algorithms=[header["alg"]])
    print(json.dumps({"ok": True, "signer": header["ena_signer"], "log": header["ena_log"]}))


def make_chain():
    now = int(time.time())
    ta_id, int_id, leaf_id = "https://ta.python.example", "https://int.python.example", "https://leaf.python.example"
    ta_key = jwk.JWK.generate(kty="RSA", size=2048, kid="ta-rsa-1", alg="RS256", use="sig")
    int_key = jwk.JWK.generate(kty="EC", crv="P-256", kid="int-ec-1", alg="ES256", use="sig")
    leaf_key = jwk.JWK.generate(kty="RSA", size=2048, kid="leaf-rsa-1", alg="RS256", use="sig")

    def pub(k):
        return {"keys": [k.export_public(as_dict=True)]}

    def sign(key, claims, typ="entity-statement+jwt"):
        alg = "RS256" if key["kty"] == "RSA" else "ES256"
        return pyjwt.encode(claims, key.export_to_pem(private_key=True, password=None), algorithm=alg,
                            headers={"kid": key["kid"], "typ": typ})

    base = {"iat": now - 60, "exp": now + 3600}
    leaf_ec = sign(leaf_key, {**base, "iss": leaf_id, "sub": leaf_id, "jwks": pub(leaf_key),
                              "metadata": {"openid_relying_party": {"client_name": "Python RP",
                                                                    "grant_types": ["authorization_code", "implicit"],
                                                                    "redirect_uris": ["https://leaf.python.example/cb"]}}})
    int_about_leaf = sign(int_key, {**base, "iss": int_id, "sub": leaf_id, "jwks": pub(leaf_key),
                                    "metadata_policy": {"openid_relying_party": {"contacts": {"add": ["ops@int.python.example"]}}}})
    ta_about_int = sign(ta_key, {**base, "iss": ta_id, "sub": int_id, "jwks": pub(int_key),
                                 "metadata_policy": {"openid_relying_party": {"grant_types": {"subset_of": ["authorization_code"]}}},
                                 "constraints": {"max_path_length": 1}})
    ta_ec = sign(ta_key, {**base, "iss": ta_id, "sub": ta_id, "jwks": pub(ta_key)})
    expired_leaf = sign(leaf_key, {"iat": now - 7200, "exp": now - 3600, "iss": leaf_id, "sub": leaf_id, "jwks": pub(leaf_key)})
    wrong_typ = sign(int_key, {**base, "iss": int_id, "sub": leaf_id, "jwks": pub(leaf_key)}, typ="JWT")
    strict_ta = sign(ta_key, {**base, "iss": ta_id, "sub": int_id, "jwks": pub(int_key), "constraints": {"max_path_length": 0}})
    print(json.dumps({
        "anchor": ta_id,
        "anchor_jwks": pub(ta_key),
        "chain": [leaf_ec, int_about_leaf, ta_about_int, ta_ec],
        "bad": {
            "expired": [expired_leaf, int_about_leaf, ta_about_int, ta_ec],
            "wrong_typ": [leaf_ec, wrong_typ, ta_about_int, ta_ec],
            "too_long": [leaf_ec, int_about_leaf, strict_ta, ta_ec],
        },
    }))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "verify":
        verify(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "verify-detached":
        verify_detached(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "make-chain":
        make_chain()
    else:
        sys.exit(__doc__)
