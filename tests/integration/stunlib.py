"""A small STUN (RFC 8489) encoder/decoder for the tests, written from the RFC independently of
the server's codec, so a shared misreading cannot make both sides agree."""
import hashlib
import hmac
import os
import struct
import zlib

COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111
XOR_MAPPED_ADDRESS = 0x0020
MAPPED_ADDRESS = 0x0001
ERROR_CODE = 0x0009
UNKNOWN_ATTRIBUTES = 0x000A
SOFTWARE = 0x8022
FINGERPRINT = 0x8028


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((-len(v)) % 4)


def message(mtype, attrs=(), tid=None, fingerprint=False, classic=False):
    tid = tid or os.urandom(16 if classic else 12)
    body = b"".join(attr(t, v) for t, v in attrs)
    head = struct.pack("!HH", mtype, len(body) + (8 if fingerprint else 0))
    head += tid if classic else struct.pack("!I", COOKIE) + tid
    msg = head + body
    if fingerprint:
        crc = (zlib.crc32(msg) ^ 0x5354554E) & 0xFFFFFFFF
        msg += attr(FINGERPRINT, struct.pack("!I", crc))
    return msg, tid


def parse(data):
    """(type, transaction id (12 bytes, or 16 for classic), {type: [values]}, fingerprint ok)."""
    mtype, length = struct.unpack("!HH", data[:4])
    assert length + 20 == len(data), (length, len(data))
    cookie = struct.unpack("!I", data[4:8])[0]
    tid = data[8:20] if cookie == COOKIE else data[4:20]
    attrs, off, fp_ok = {}, 20, None
    while off < len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        v = data[off + 4:off + 4 + n]
        if t == FINGERPRINT:
            fp_ok = struct.unpack("!I", v)[0] == (zlib.crc32(data[:off]) ^ 0x5354554E) & 0xFFFFFFFF
        attrs.setdefault(t, []).append(v)
        off += 4 + n + ((-n) % 4)
    return mtype, tid, attrs, fp_ok


def xor_address(v, tid):
    family, port = v[1], struct.unpack("!H", v[2:4])[0] ^ (COOKIE >> 16)
    if family == 1:
        ip = struct.unpack("!I", v[4:8])[0] ^ COOKIE
        return ".".join(str((ip >> s) & 255) for s in (24, 16, 8, 0)), port
    mask = struct.pack("!I", COOKIE) + tid
    raw = bytes(a ^ b for a, b in zip(v[4:20], mask))
    return raw.hex(), port


def plain_address(v):
    port = struct.unpack("!H", v[2:4])[0]
    return ".".join(str(b) for b in v[4:8]), port


def error_code(v):
    return (v[2] & 7) * 100 + v[3], v[4:].decode()


def long_term_key(user, realm, password):
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).digest()


def integrity(msg_without, key, sha256=False):
    """Appends MESSAGE-INTEGRITY(-SHA256) to a message built without FINGERPRINT."""
    n = 32 if sha256 else 20
    t = 0x001C if sha256 else 0x0008
    head = msg_without[:2] + struct.pack("!H", len(msg_without) - 20 + 4 + n) + msg_without[4:20]
    mac = hmac.new(key, head + msg_without[20:], hashlib.sha256 if sha256 else hashlib.sha1)
    out = head + msg_without[20:] + attr(t, mac.digest())
    return out
