#!/usr/bin/env python3
"""An OpenID Federation client no one here wrote — spid-cie-oidc (PyPI) — walks a member's trust chain
the way any relying party would: the anchor's entity configuration, the member's own at
`{entity_id}/.well-known/openid-federation`, its `authority_hints`, the anchor's fetch endpoint for the
subordinate statement; it checks every signature against the superior's keys. This script adds what the
library leaves out (iat/exp, iss/sub linkage, the superior's metadata override, the metadata policy)
and prints the chain and the resolved metadata as JSON; it exits 1 on any failure.

  oidf_chain.py ANCHOR_ID LEAF_ID [ANCHOR_JWKS.json]

OIDF_CA: a CA bundle for https members (ena's federation CA in the tests). Host names under `.localhost`
resolve to 127.0.0.1 (RFC 6761), as ena's own nodes resolve them.
"""
import json
import os
import socket
import sys
import time

_getaddrinfo = socket.getaddrinfo


def _localhost_aware(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _localhost_aware

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(HTTP_CLIENT_SYNC=True, INSTALLED_APPS=[], USE_TZ=True)  # sync requests, no database
django.setup()
from spid_cie_oidc.entity.jwtse import unpad_jwt_payload  # noqa: E402
from spid_cie_oidc.entity.policy import apply_policy  # noqa: E402
from spid_cie_oidc.entity.statements import EntityConfiguration, get_entity_configurations  # noqa: E402
from spid_cie_oidc.entity.trust_chain import TrustChainBuilder  # noqa: E402


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


anchor, leaf = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")
httpc = {"timeout": 10}
if os.environ.get("OIDF_CA"):
    httpc["verify"] = os.environ["OIDF_CA"]
try:
    ta_ec = EntityConfiguration(get_entity_configurations(anchor, httpc_params=httpc)[0], httpc_params=httpc)
    if len(sys.argv) > 3:  # pin the anchor's keys instead of trusting its self-signed configuration
        ta_ec.jwks = json.load(open(sys.argv[3]))["keys"]
        ta_ec.kids = [k["kid"] for k in ta_ec.jwks]
    ta_ec.validate_by_itself()
    tc = TrustChainBuilder(subject=leaf, trust_anchor=ta_ec, httpc_params=httpc)
    tc.get_trust_anchor_configuration()
    tc.max_path_len = max(tc.max_path_len, 1)
    tc.get_subject_configuration()
    tc.discovery()
except Exception as e:  # the library raises many kinds; any of them is a failed chain
    fail(f"{type(e).__name__}: {e}")
path = tc.trust_path
if not tc.is_valid or len(path) < 2 or path[0].sub != leaf or path[-1].sub != anchor:
    fail("no valid trust chain")
chain = [path[0].jwt] + [path[i].verified_descendant_statements_as_jwt[path[i - 1].sub] for i in range(1, len(path))]
chain.append(path[-1].jwt)
st = [unpad_jwt_payload(j) for j in chain]
now = int(time.time())
for i, s in enumerate(st):
    if not isinstance(s.get("exp"), int) or s["exp"] < now - 60:
        fail(f"statement {i} expired or without exp")
    if not isinstance(s.get("iat"), int) or s["iat"] > now + 60:
        fail(f"statement {i} issued in the future or without iat")
if (st[0]["iss"], st[0]["sub"]) != (leaf, leaf) or (st[-1]["iss"], st[-1]["sub"]) != (anchor, anchor):
    fail("the chain does not run from the leaf to the anchor")
for i in range(1, len(st) - 1):
    if st[i]["sub"] != st[i - 1]["iss"] or st[i]["iss"] != path[i].sub:
        fail(f"statement {i}: iss/sub linkage broken")
if anchor not in st[0].get("authority_hints", []):
    fail("the leaf's authority_hints do not name the anchor")
metadata = st[0].get("metadata", {})
for typ, override in st[1].get("metadata", {}).items():
    metadata.setdefault(typ, {}).update(override)
allowed = st[1].get("constraints", {}).get("allowed_entity_types")
if allowed is not None:
    metadata = {t: m for t, m in metadata.items() if t == "federation_entity" or t in allowed}
try:
    for s in reversed(st[1:-1]):
        for typ, policy in s.get("metadata_policy", {}).items():
            if typ in metadata:
                metadata[typ] = apply_policy(metadata[typ], policy)
except Exception as e:
    fail(f"metadata policy: {type(e).__name__}: {e}")
print(json.dumps({"chain_length": len(chain), "chain": [f"{s['iss']} -> {s['sub']}" for s in st],
                  "metadata": metadata}, indent=1))
