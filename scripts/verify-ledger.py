#!/usr/bin/env python3
"""Verify an export of Backline's ledger (`backline ledger export --from A --to B > x.jsonl`)
with the public key alone, by the algorithm of docs/ledger-seals.md. Python standard library
only (Ed25519 per RFC 8032, written out below).

    python3 scripts/verify-ledger.py x.jsonl [--public-key HEX]

Prints `ok: N events, M blocks` and exits 0, or prints the first bad position and exits 1.
The public key defaults to the one in the export's header: pass the key you trust instead.
"""

import argparse
import datetime
import hashlib
import json
import re
import sys

# --- Ed25519 verification (RFC 8032, section 5.1.7) -------------------------------------
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(p, q):
    return (p[0] * q[2] - q[0] * p[2]) % P == 0 and (p[1] * q[2] - q[1] * p[2]) % P == 0


_GY = 4 * pow(5, P - 2, P) % P
G = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % P)


def ed25519_verify(public, message, signature):
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % L
    return _equal(_mul(s, G), _add(r, _mul(h, a)))


# --- Canonical bytes (docs/ledger-seals.md) ----------------------------------------------
class Number(str):
    """A JSON number kept exactly as written."""


def parse(text):
    return json.loads(text, parse_int=Number, parse_float=Number, parse_constant=Number)


TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):([0-5]\d)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$"
)


def normalise_timestamp(s):
    m = TIMESTAMP.match(s)
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    micros = int(((fraction or "") + "000000")[:6])
    if zone == "Z":
        tz = datetime.timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        t = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz)
        t = t.astimezone(datetime.timezone.utc)
    except (ValueError, OverflowError):
        return None
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % t.microsecond


def string(s):
    return json.dumps(s, ensure_ascii=False)


def canonical(v, timestamps=False):
    if isinstance(v, Number):
        return str(v)
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-8"))
        return "{" + ",".join(string(k) + ":" + canonical(x, timestamps) for k, x in items) + "}"
    if isinstance(v, list):
        return "[" + ",".join(canonical(x, timestamps) for x in v) + "]"
    if isinstance(v, str):
        if timestamps:
            v = normalise_timestamp(v) or v
        return string(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    raise ValueError("unexpected JSON value %r" % (v,))


def event_bytes(e):
    return (
        "{"
        + '"aggregate_id":' + string(e["aggregate_id"])
        + ',"aggregate_type":' + string(e["aggregate_type"])
        + ',"event_type":' + string(e["event_type"])
        + ',"event_version":' + string(e["event_version"])
        + ',"metadata":' + canonical(e["metadata"], True)
        + ',"payload":' + canonical(e["payload"])
        + ',"position":' + str(e["position"])
        + ',"sequence":' + str(e["sequence"])
        + "}"
    ).encode("utf-8")


def leaf(e):
    return hashlib.sha256(b"\x00" + event_bytes(e)).digest()


def head_bytes(s):
    return (
        '{"count":%s,"from":%s,"prev":%s,"root":%s,"to":%s}'
        % (s["count"], s["from"], string(s["prev"]), string(s["root"]), s["to"])
    ).encode("utf-8")


# --- Verification --------------------------------------------------------------------------
def verify(lines, public_key):
    header, events, seals = None, [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        item = parse(line)
        kind = item.get("kind")
        if kind == "header":
            header = item
        elif kind == "event":
            item["position"] = int(item["position"])
            item["sequence"] = int(item["sequence"])
            events.append(item)
        elif kind == "seal":
            seals.append(item["seal"])
        else:
            raise ValueError("line %d: unknown kind %r" % (n, kind))
    key = bytes.fromhex(public_key or (header or {}).get("public_key", ""))
    problems = []
    by_position = {e["position"]: e for e in events}
    seals.sort(key=lambda s: int(s["from"]))
    prev = None
    sealed = 0
    for s in seals:
        frm, to = int(s["from"]), int(s["to"])
        head_hash = hashlib.sha256(head_bytes(s)).hexdigest()
        if s["hash"] != head_hash:
            problems.append((frm, "block %d-%d: its hash is not its head's" % (frm, to)))
        if prev is not None and (s["prev"] != prev[0] or frm != prev[1] + 1):
            problems.append((frm, "block %d-%d does not link to the block before it" % (frm, to)))
        if s.get("public_key") != key.hex():
            problems.append((frm, "block %d-%d is not signed by the given key" % (frm, to)))
        elif not ed25519_verify(key, head_bytes(s), bytes.fromhex(s.get("signature") or "")):
            problems.append((frm, "block %d-%d: the signature does not verify" % (frm, to)))
        prev = (head_hash, to)
        inside = [by_position[p] for p in sorted(by_position) if frm <= p <= to]
        sealed += len(inside)
        leaves = [leaf(e) for e in inside]
        root = hashlib.sha256(b"\x01" + b"".join(leaves)).hexdigest()
        if len(inside) != int(s["count"]) or root != s["root"]:
            problems.append(locate(s, inside, leaves))
    problems.sort(key=lambda p: p[0])
    return problems, len(events), len(seals), sealed


def locate(seal, inside, leaves):
    frm, to = int(seal["from"]), int(seal["to"])
    recorded = {int(p): h for p, h in seal.get("leaves", [])}
    found = {e["position"]: l.hex()[:16] for e, l in zip(inside, leaves)}
    for p in sorted(set(recorded) | set(found)):
        if p not in found:
            return (p, "position %d: the event was removed since block %d-%d sealed it" % (p, frm, to))
        if p not in recorded:
            return (p, "position %d: an event was inserted since block %d-%d sealed it" % (p, frm, to))
        if recorded[p] != found[p]:
            return (p, "position %d: the event was edited or moved since block %d-%d sealed it" % (p, frm, to))
    return (frm, "position %d: the block's events do not match its root" % frm)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export", help="the file `backline ledger export` wrote (- for stdin)")
    ap.add_argument("--public-key", help="the Ed25519 public key (hex) to trust")
    args = ap.parse_args()
    f = sys.stdin if args.export == "-" else open(args.export, encoding="utf-8")
    with f:
        problems, events, blocks, sealed = verify(f, args.public_key)
    if problems:
        for position, message in problems:
            print("position %d: %s" % (position, message))
        print("first bad position %d" % problems[0][0])
        return 1
    print("ok: %d events, %d sealed in %d blocks" % (events, sealed, blocks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
