"""Deterministic key material for the config-forms corpus (stdlib only).

Real keys, generated in pure Python from a seeded `random.Random`, so that `gen.py` writes the
same bytes on every run (ssh-keygen / openssl / puttygen draw from the OS RNG and cannot be
seeded). RSA, DSA, EC P-256 and Ed25519 keys are mathematically valid; encrypted containers
(encrypted PKCS#8, legacy `Proc-Type: 4,ENCRYPTED` PEM, encrypted OpenSSH, PGP) have the real
outer structure with random ciphertext, as an encrypted key looks to a scanner.
"""

import base64
import hashlib
import hmac
import struct

# ---------------------------------------------------------------- numbers

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]


def is_probable_prime(n, rng, rounds=24):
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = rng.randrange(2, n - 1)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def random_prime(rng, bits):
    while True:
        n = rng.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if is_probable_prime(n, rng):
            return n


def rsa_key(rng, bits=2048):
    e = 65537
    while True:
        p = random_prime(rng, bits // 2)
        q = random_prime(rng, bits // 2)
        if p == q:
            continue
        phi = (p - 1) * (q - 1)
        try:
            d = pow(e, -1, phi)
        except ValueError:
            continue
        if p < q:
            p, q = q, p
        n = p * q
        if n.bit_length() != bits:
            continue
        return dict(n=n, e=e, d=d, p=p, q=q, dp=d % (p - 1), dq=d % (q - 1), qinv=pow(q, -1, p))


def dsa_key(rng, lbits=1024, nbits=160):
    q = random_prime(rng, nbits)
    while True:
        k = rng.getrandbits(lbits - nbits) | (1 << (lbits - nbits - 1))
        p = k * q + 1
        if p.bit_length() == lbits and is_probable_prime(p, rng):
            break
    while True:
        h = rng.randrange(2, p - 1)
        g = pow(h, (p - 1) // q, p)
        if g > 1:
            break
    x = rng.randrange(1, q)
    return dict(p=p, q=q, g=g, x=x, y=pow(g, x, p))


# P-256
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)


def _ec_add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % _P == 0:
        return None
    if a == b:
        lam = (3 * a[0] * a[0] + _A) * pow(2 * a[1], -1, _P) % _P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, _P) % _P
    x = (lam * lam - a[0] - b[0]) % _P
    return (x, (lam * (a[0] - x) - a[1]) % _P)


def ec_p256_key(rng):
    d = rng.randrange(1, _N)
    r, pt, k = None, _G, d
    while k:
        if k & 1:
            r = _ec_add(r, pt)
        pt = _ec_add(pt, pt)
        k >>= 1
    return d, r


# Ed25519 (RFC 8032)
_EP = 2**255 - 19
_ED = -121665 * pow(121666, -1, _EP) % _EP
_EQ = 2**252 + 27742317777372353535851937790883648493
_BY = 4 * pow(5, -1, _EP) % _EP


def _recover_x(y):
    x2 = (y * y - 1) * pow(_ED * y * y + 1, -1, _EP)
    x = pow(x2, (_EP + 3) // 8, _EP)
    if (x * x - x2) % _EP:
        x = x * pow(2, (_EP - 1) // 4, _EP) % _EP
    if x % 2:
        x = _EP - x
    return x


_EB = (_recover_x(_BY), _BY, 1, _recover_x(_BY) * _BY % _EP)


def _ed_add(P, Q):
    A = (P[1] - P[0]) * (Q[1] - Q[0]) % _EP
    B = (P[1] + P[0]) * (Q[1] + Q[0]) % _EP
    C = 2 * P[3] * Q[3] * _ED % _EP
    D = 2 * P[2] * Q[2] % _EP
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F % _EP, G * H % _EP, F * G % _EP, E * H % _EP)


def ed25519_public(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    R, P = (0, 1, 1, 0), _EB
    while a:
        if a & 1:
            R = _ed_add(R, P)
        P = _ed_add(P, P)
        a >>= 1
    zi = pow(R[2], -1, _EP)
    x, y = R[0] * zi % _EP, R[1] * zi % _EP
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


# ---------------------------------------------------------------- DER


def _len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + _len(len(body)) + body


def der_int(n):
    b = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")
    return tlv(0x02, b)


def der_seq(*items):
    return tlv(0x30, b"".join(items))


def der_oid(dotted):
    parts = [int(x) for x in dotted.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(enc))
    return tlv(0x06, out)


NULL = b"\x05\x00"


def der_octets(b):
    return tlv(0x04, b)


def der_bits(b):
    return tlv(0x03, b"\x00" + b)


def pem(label, der, headers=""):
    b = base64.b64encode(der).decode()
    lines = [b[i : i + 64] for i in range(0, len(b), 64)]
    return f"-----BEGIN {label}-----\n{headers}" + "\n".join(lines) + f"\n-----END {label}-----"


def rsa_pkcs1(k):
    return der_seq(*(der_int(x) for x in (0, k["n"], k["e"], k["d"], k["p"], k["q"], k["dp"], k["dq"], k["qinv"])))


def rsa_pkcs8(k):
    return der_seq(der_int(0), der_seq(der_oid("1.2.840.113549.1.1.1"), NULL), der_octets(rsa_pkcs1(k)))


def ec_sec1(d, pub):
    pt = b"\x04" + pub[0].to_bytes(32, "big") + pub[1].to_bytes(32, "big")
    return der_seq(
        der_int(1),
        der_octets(d.to_bytes(32, "big")),
        tlv(0xA0, der_oid("1.2.840.10045.3.1.7")),
        tlv(0xA1, der_bits(pt)),
    )


def ec_pkcs8(d, pub):
    inner = der_seq(der_int(1), der_octets(d.to_bytes(32, "big")), tlv(0xA1, der_bits(b"\x04" + pub[0].to_bytes(32, "big") + pub[1].to_bytes(32, "big"))))
    return der_seq(der_int(0), der_seq(der_oid("1.2.840.10045.2.1"), der_oid("1.2.840.10045.3.1.7")), der_octets(inner))


def dsa_der(k):
    return der_seq(*(der_int(x) for x in (0, k["p"], k["q"], k["g"], k["y"], k["x"])))


def encrypted_pkcs8(rng, plain_len):
    salt = rng.randbytes(16)
    iv = rng.randbytes(16)
    ct = rng.randbytes((plain_len // 16 + 1) * 16)
    alg = der_seq(
        der_oid("1.2.840.113549.1.5.13"),
        der_seq(
            der_seq(
                der_oid("1.2.840.113549.1.5.12"),
                der_seq(der_octets(salt), der_int(2048), der_seq(der_oid("1.2.840.113549.2.9"), NULL)),
            ),
            der_seq(der_oid("2.16.840.1.101.3.4.1.42"), der_octets(iv)),
        ),
    )
    return der_seq(alg, der_octets(ct))


# ---------------------------------------------------------------- SSH wire format


def ssh_string(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def ssh_mpint(n):
    if n == 0:
        return ssh_string(b"")
    b = n.to_bytes((n.bit_length() + 8) // 8, "big")
    return ssh_string(b)


def ssh_pub_rsa(k):
    return ssh_string("ssh-rsa") + ssh_mpint(k["e"]) + ssh_mpint(k["n"])


def ssh_pub_ed25519(pub):
    return ssh_string("ssh-ed25519") + ssh_string(pub)


def _armor_openssh(blob):
    b = base64.b64encode(blob).decode()
    lines = [b[i : i + 70] for i in range(0, len(b), 70)]
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----"


def openssh_private(rng, keytype, pub_blob, priv_fields, comment, encrypted=False):
    check = rng.getrandbits(32)
    body = struct.pack(">II", check, check) + ssh_string(keytype) + priv_fields + ssh_string(comment)
    block = 16 if encrypted else 8
    i = 1
    while len(body) % block:
        body += bytes([i])
        i += 1
    if encrypted:
        kdf = ssh_string(rng.randbytes(16)) + struct.pack(">I", 16)
        head = b"openssh-key-v1\x00" + ssh_string("aes256-ctr") + ssh_string("bcrypt") + ssh_string(kdf)
        body = rng.randbytes(len(body))
    else:
        head = b"openssh-key-v1\x00" + ssh_string("none") + ssh_string("none") + ssh_string(b"")
    blob = head + struct.pack(">I", 1) + ssh_string(pub_blob) + ssh_string(body)
    return _armor_openssh(blob)


def openssh_ed25519(rng, comment, encrypted=False):
    seed = rng.randbytes(32)
    pub = ed25519_public(seed)
    fields = ssh_string(pub) + ssh_string(seed + pub)
    return openssh_private(rng, "ssh-ed25519", ssh_pub_ed25519(pub), fields, comment, encrypted)


def openssh_rsa(rng, k, comment):
    fields = b"".join(ssh_mpint(k[x]) for x in ("n", "e", "d", "qinv", "p", "q"))
    return openssh_private(rng, "ssh-rsa", ssh_pub_rsa(k), fields, comment)


def _lines64(b):
    s = base64.b64encode(b).decode()
    return [s[i : i + 64] for i in range(0, len(s), 64)]


def ppk(version, alg, pub_blob, priv_blob, comment):
    """PuTTY private key file, unencrypted, with a correct Private-MAC."""
    enc = "none"
    macdata = ssh_string(alg) + ssh_string(enc) + ssh_string(comment) + ssh_string(pub_blob) + ssh_string(priv_blob)
    if version == 2:
        key = hashlib.sha1(b"putty-private-key-file-mac-key").digest()
        mac = hmac.new(key, macdata, hashlib.sha1).hexdigest()
    else:
        mac = hmac.new(b"", macdata, hashlib.sha256).hexdigest()
    pub, priv = _lines64(pub_blob), _lines64(priv_blob)
    out = [f"PuTTY-User-Key-File-{version}: {alg}", f"Encryption: {enc}", f"Comment: {comment}", f"Public-Lines: {len(pub)}"]
    out += pub + [f"Private-Lines: {len(priv)}"] + priv + [f"Private-MAC: {mac}"]
    return "\n".join(out)


def ppk_rsa(k, comment, version=2):
    priv = b"".join(ssh_mpint(k[x]) for x in ("d", "p", "q", "qinv"))
    return ppk(version, "ssh-rsa", ssh_pub_rsa(k), priv, comment)


def ppk_ed25519(rng, comment, version=3):
    seed = rng.randbytes(32)
    pub = ed25519_public(seed)
    return ppk(version, "ssh-ed25519", ssh_pub_ed25519(pub), ssh_string(seed), comment)


# ---------------------------------------------------------------- PGP armour


def crc24(data):
    crc = 0xB704CE
    for b in data:
        crc ^= b << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def pgp_private_block(rng):
    """A secret-key packet (new format, tag 5, v4, EdDSA) with random secret material, then a
    user id packet and random signature packet bytes; armoured with its CRC24."""
    created = 1700000000 + rng.randrange(0, 50_000_000)
    curve = bytes.fromhex("2b06010401da470f01")  # Ed25519 OID
    pubmpi = struct.pack(">H", 263) + b"\x40" + rng.randbytes(32)
    secmpi = struct.pack(">H", 256) + rng.randbytes(32)
    body = b"\x04" + struct.pack(">I", created) + bytes([22, len(curve)]) + curve + pubmpi
    body += b"\x00" + secmpi + struct.pack(">H", sum(secmpi) & 0xFFFF)
    pkt = bytes([0xC5, len(body)]) + body
    uid = f"Release Signing <release-{rng.randrange(100, 999)}@mail.internal>".encode()
    pkt += bytes([0xCD, len(uid)]) + uid
    sig = rng.randbytes(140)
    pkt += bytes([0xC2, len(sig)]) + sig
    lines = _lines64(pkt)
    c = base64.b64encode(crc24(pkt).to_bytes(3, "big")).decode()
    return "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + "\n".join(lines) + f"\n={c}\n-----END PGP PRIVATE KEY BLOCK-----"


# ---------------------------------------------------------------- bech32 (age keys)

_BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def bech32(hrp, data8):
    acc, bits, data = 0, 0, []
    for b in data8:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    hv = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]
    pm = _polymod(hv + data + [0] * 6) ^ 1
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH[d] for d in data + chk)
