#!/usr/bin/env python3
"""Writes seed inputs for the fuzz targets into corpus/<target>/ (gitignored).

raw_request gets each recorded request's query and form body (split by a NUL), the
verify_* targets get the recorded requests of their scheme as `RAW` text requests (see
src/lib.rs, parse_raw_text), ciphertext_blob gets a few well-formed blobs, policy a few policy documents.

Usage: seed.py VECTORS_DIR CORPUS_DIR
"""
import base64
import glob
import hashlib
import json
import os
import sys
import uuid

vectors, corpus = sys.argv[1], sys.argv[2]
written = {}


def put(target, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        written[target] = written.get(target, 0) + 1


for file in sorted(glob.glob(os.path.join(vectors, "*.jsonl"))):
    for line in open(file, encoding="utf-8"):
        r = json.loads(line)
        if r.get("body_b64"):
            body = base64.b64decode(r["body_b64"])
        else:
            body = (r.get("body") or "").encode("utf-8")
        query = (r.get("raw_query") or "").encode("utf-8")
        put("raw_request", query + b"\0" + body)

        auth = next((v for k, v in r["headers"] if k.lower() == "authorization"), "")
        target = {"ACS3": "verify_acs3", "ACS4": "verify_acs4"}.get(auth[:4], "verify_v1")
        head = "RAW %s\n?%s\n" % (r["method"], r.get("raw_query") or "")
        head += "".join("%s: %s\n" % (k, v) for k, v in r["headers"])
        put(target, head.encode("utf-8") + b"\n" + body)

for n, ct_len in enumerate([16, 17, 48, 1040]):
    blob = str(uuid.UUID(int=n * 0x0123456789ABCDEF + 1)).encode() + bytes(range(12))
    put("ciphertext_blob", blob + bytes((i * 7) & 0xFF for i in range(ct_len)))

for policy in [
    {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]},
    {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "acs:kms:*:*:key/*",
         "Condition": {"StringEquals": {"kms:tag/app": "app1"}, "IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}},
        {"Effect": "Deny", "Action": "kms:*", "Resource": "acs:kms:cn-hangzhou:*:alias/app2-*",
         "Condition": {"DateGreaterThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"}}}]},
]:
    put("policy", json.dumps(policy).encode("utf-8"))

for t in sorted(written):
    print("seeded %-16s %4d new inputs" % (t, written[t]))
