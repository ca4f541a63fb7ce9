#!/usr/bin/env python3
"""A second, independent implementation of purple-otr's modern suite, written from
docs/modern-suite.md alone, with the `cryptography` package (X25519, HKDF, HMAC, AES-CTR) and
`kyber-py` (ML-KEM-768, FIPS 203).

    verify.py TRANSCRIPT.json     replay a conversation the Rust code recorded: redo the
                                  handshake from the parties' keys and recorded random draws,
                                  check every handshake message, decrypt every data message
                                  as its receiver; print one line per message:
                                  <index> <plaintext hex> <plaintext>.
    verify.py --make-kat OUT      write known-answer vectors (handshake and a conversation
                                  with KEM rounds, lost and reordered messages) for the Rust
                                  tests (src/otr/modern/kat.rs).
    verify.py --make-kat-direct OUT   the same for the direct start between pinned peers (§15).

The transcript (written by tests/modern_independent.rs):
    {"binding": {"ssid", "v3_key", "fp_i", "fp_r"},             hex
     "instances": {"initiator": int, "responder": int},
     "initiator": {"identity_secret": hex, "draws": [hex, ...]},   every 32-byte random draw,
     "responder": {"identity_secret": hex, "draws": [hex, ...]},   in order (§9)
     "handshake": {"init", "response", "confirm"},                 "?OTR:...." texts
     "messages": [{"to": "responder" | "initiator", "wire": "?OTR:...."}, ...]}
The messages are listed in the order their receivers processed them (lost ones absent).

A direct start between pinned peers (§15) has instead:
    {"start": "direct",
     "instances": {"initiator": int, "responder": int, "named": int},   named: DIRECT_INIT's receiver
     "initiator": {"identity_secret", "fingerprint", "pin": {"identity", "fingerprint"}, "draws"},
     "responder": {  (the same: own v3 fingerprint, the pin held for the other party)  },
     "handshake": {"direct_init", "response", "confirm", "confirm_delivered": bool},
     "messages": [...]}

Exit status: 0 all checked, 1 the transcript does not check out, 2 usage, 3 missing package.
Needs: pip install cryptography kyber-py
"""

import base64
import hashlib
import json
import sys

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import hmac as chmac
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from kyber_py.ml_kem import ML_KEM_768
except ImportError as e:  # the Rust test looks for this line
    print(f"MISSING PYTHON PACKAGE: {e}; run: pip install cryptography kyber-py", file=sys.stderr)
    sys.exit(3)


class SuiteError(Exception):
    pass


# ---- §1 primitives ----------------------------------------------------------------------

def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def hmac256(key, *parts):
    h = chmac.HMAC(key, hashes.SHA256())
    for p in parts:
        h.update(p)
    return h.finalize()


def hkdf(salt, ikm, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def x25519(k, u):
    try:
        out = X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u))
    except ValueError:  # cryptography refuses the all-zero result itself
        raise SuiteError("BadKey")
    if out == bytes(32):
        raise SuiteError("BadKey")
    return out


def pub(k):
    from cryptography.hazmat.primitives import serialization

    return X25519PrivateKey.from_private_bytes(k).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def aes_ctr(key, iv, data):
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def kem_keygen(d, z):
    ek, dk = ML_KEM_768._keygen_internal(d, z)
    return ek, dk


def kem_ek_is_canonical(ek):
    # FIPS 203 §7.2 modulus check: every 12-bit coefficient of the first 384k bytes < q.
    body = ek[: 384 * 3]
    for i in range(0, len(body), 3):
        b0, b1, b2 = body[i], body[i + 1], body[i + 2]
        if (b0 | ((b1 & 0x0F) << 8)) >= 3329 or ((b1 >> 4) | (b2 << 4)) >= 3329:
            return False
    return True


def kem_encaps(ek, m):
    if len(ek) != 1184 or not kem_ek_is_canonical(ek):
        raise SuiteError("BadKey")
    K, c = ML_KEM_768._encaps_internal(ek, m)
    return K, c


def kem_decaps(dk, c):
    return ML_KEM_768.decaps(dk, c)


# ---- §3 wire ----------------------------------------------------------------------------

INIT, RESPONSE, CONFIRM, DATA, DIRECT_INIT = 0x30, 0x31, 0x32, 0x33, 0x34
F_IGNORE, F_ACK, F_EK, F_CT = 0x01, 0x02, 0x04, 0x08
EK_LEN, CT_LEN = 1184, 1088

L_TRANSCRIPT = b"purple-otr modern v1 transcript"
L_DIRECT_TRANSCRIPT = b"purple-otr modern v1 direct transcript"
L_ROOT = b"purple-otr modern v1 root"
L_RESP_CHAIN = b"purple-otr modern v1 responder chain"
L_RESP_CONFIRM = b"purple-otr modern v1 responder confirm"
L_INIT_CONFIRM = b"purple-otr modern v1 initiator confirm"
L_RATCHET = b"purple-otr modern v1 ratchet"
L_MSG = b"purple-otr modern v1 message keys"

MAX_SKIP = 500
MAX_SKIPPED_KEYS = 1000
KEM_INTERVAL = 4
MAX_REVEAL_PER_MESSAGE = 64
MAX_PENDING_REVEAL = 1000
MAX_OLD_RATCHET_KEYS = 16


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        if self.i + n > len(self.b):
            raise SuiteError("Truncated")
        out = self.b[self.i : self.i + n]
        self.i += n
        return out

    def int(self):
        return int.from_bytes(self.take(4), "big")

    def data(self):
        return self.take(self.int())

    def finish(self):
        if self.i != len(self.b):
            raise SuiteError("TrailingBytes")


def header(mtype, sender, receiver):
    return b"\x00\x03" + bytes([mtype]) + sender.to_bytes(4, "big") + receiver.to_bytes(4, "big") + b"\x01"


def parse(b):
    r = Reader(b)
    if r.take(2) != b"\x00\x03":
        raise SuiteError("BadVersion")
    mtype = r.take(1)[0]
    sender, receiver = r.int(), r.int()
    if sender < 0x100 or (receiver != 0 and receiver < 0x100):
        raise SuiteError("BadInstanceTag")
    suite = r.take(1)[0]
    if suite != 1:
        raise SuiteError("UnsupportedSuite")
    m = {"type": mtype, "sender": sender, "receiver": receiver, "raw": b}
    if mtype == INIT:
        m.update(ik_i=r.take(32), ik_r=r.take(32), e_i=r.take(32), ek=r.take(EK_LEN))
    elif mtype == DIRECT_INIT:  # §15.2
        m.update(fp_i=r.take(20), fp_r=r.take(20), ik_i=r.take(32), ik_r=r.take(32), e_i=r.take(32), ek=r.take(EK_LEN))
    elif mtype == RESPONSE:
        m.update(e_r=r.take(32), c=r.take(CT_LEN), mac=r.take(32))
    elif mtype == CONFIRM:
        m.update(mac=r.take(32))
    elif mtype == DATA:
        flags = r.take(1)[0]
        if flags & ~0x0F:
            raise SuiteError("BadValue")
        m.update(flags=flags, dh=r.take(32), pn=r.int(), n=r.int())
        m["ek"] = r.take(EK_LEN) if flags & F_EK else None
        m["c"] = r.take(CT_LEN) if flags & F_CT else None
        m["ciphertext"] = r.data()
        m["authenticated"] = b[: r.i]
        m["mac"] = r.take(32)
        revealed = r.data()
        if len(revealed) % 32:
            raise SuiteError("BadValue")
        m["revealed"] = [revealed[i : i + 32] for i in range(0, len(revealed), 32)]
    else:
        raise SuiteError("BadMessageType")
    r.finish()
    return m


def from_otr(text):
    if not (text.startswith("?OTR:") and text.endswith(".")):
        raise SuiteError("not an ?OTR: message")
    return base64.b64decode(text[5:-1], validate=True)


def to_otr(b):
    return "?OTR:" + base64.b64encode(b).decode() + "."


# ---- §5 handshake -----------------------------------------------------------------------

class Draws:
    def __init__(self, values):
        self.values = list(values)
        self.used = 0

    def take(self):
        if self.used >= len(self.values):
            raise SuiteError("ran out of recorded random draws")
        v = self.values[self.used]
        self.used += 1
        return v


def transcript_hash(binding, init_raw, response_raw):
    return sha256(L_TRANSCRIPT, binding["ssid"], binding["fp_i"], binding["fp_r"], init_raw, response_raw[:-32])


def derive(th, dh1, dh2, dh3, ss, binding):
    ikm = dh1 + dh2 + dh3 + ss + binding["v3_key"]
    return {
        "rk0": hkdf(th, ikm, L_ROOT, 32),
        "ckr0": hkdf(th, ikm, L_RESP_CHAIN, 32),
        "kc_r": hkdf(th, ikm, L_RESP_CONFIRM, 32),
        "kc_i": hkdf(th, ikm, L_INIT_CONFIRM, 32),
    }


def initiator_start(draws, ik_i, ik_r_pub, binding, tags):
    e_i = draws.take()
    d, z = draws.take(), draws.take()
    ek, dk = kem_keygen(d, z)
    init = header(INIT, tags[0], tags[1]) + pub(ik_i) + ik_r_pub + pub(e_i) + ek
    return {"e_i": e_i, "dk": dk, "init": init, "ik_i": ik_i, "ik_r_pub": ik_r_pub}, init


def responder_respond(draws, ik_r, ik_i_pub, binding, tags, init_raw):
    m = parse(init_raw)
    if m["type"] != INIT or (m["sender"], m["receiver"]) != (tags[1], tags[0]):
        raise SuiteError("UnexpectedMessage")
    if m["ik_i"] != ik_i_pub or m["ik_r"] != pub(ik_r):
        raise SuiteError("UnexpectedIdentity")
    e_r = draws.take()
    mm = draws.take()
    ss, c = kem_encaps(m["ek"], mm)
    dh1, dh2, dh3 = x25519(e_r, m["ik_i"]), x25519(ik_r, m["e_i"]), x25519(e_r, m["e_i"])
    partial = header(RESPONSE, tags[0], tags[1]) + pub(e_r) + c
    th = transcript_hash(binding, init_raw, partial + bytes(32))
    k = derive(th, dh1, dh2, dh3, ss, binding)
    response = partial + hmac256(k["kc_r"], th)
    ratchet = Ratchet.responder(th, tags, k["rk0"], k["ckr0"], e_r, draws)
    return ratchet, k["kc_i"], response


def initiator_receive(state, draws, binding, tags, response_raw):
    m = parse(response_raw)
    if m["type"] != RESPONSE or (m["sender"], m["receiver"]) != (tags[1], tags[0]):
        raise SuiteError("UnexpectedMessage")
    dh1 = x25519(state["ik_i"], m["e_r"])
    dh2 = x25519(state["e_i"], state["ik_r_pub"])
    dh3 = x25519(state["e_i"], m["e_r"])
    ss = kem_decaps(state["dk"], m["c"])
    th = transcript_hash(binding, state["init"], response_raw)
    k = derive(th, dh1, dh2, dh3, ss, binding)
    if not chmac_eq(hmac256(k["kc_r"], th), m["mac"]):
        raise SuiteError("BadMac")
    confirm = header(CONFIRM, tags[0], tags[1]) + hmac256(k["kc_i"], th)
    ratchet = Ratchet.initiator(th, tags, k["rk0"], k["ckr0"], state["e_i"], m["e_r"], draws)
    return ratchet, confirm, th, k


def chmac_eq(a, b):
    import hmac as stdhmac

    return stdhmac.compare_digest(a, b)


def responder_confirm(kc_i, th, confirm_raw):
    m = parse(confirm_raw)
    if m["type"] != CONFIRM or not chmac_eq(hmac256(kc_i, th), m["mac"]):
        raise SuiteError("BadMac")


# ---- §6–§7 ratchet ----------------------------------------------------------------------

def kdf_rk(rk, dh, kem=None):
    out = hkdf(rk, dh + (kem or b""), L_RATCHET, 64)
    return out[:32], out[32:]


def kdf_ck(ck):
    return hmac256(ck, b"\x01"), hmac256(ck, b"\x02")


def message_keys(mk):
    out = hkdf(bytes(32), mk, L_MSG, 80)
    return out[:32], out[32:64], out[64:]


class Ratchet:
    def __init__(self):
        self.skipped = {}  # (dh, n) -> mk, insertion-ordered
        self.kem_dk = None  # our current sending chain opened a round
        self.kem_ek = None
        self.kem_c_out = None
        self.send_ack = False
        self.pending_ss = None
        self.kem_countdown = KEM_INTERVAL
        self.reveal = []
        self.old_ratchet_keys = []
        self.ns = self.nr = self.pn = 0

    @classmethod
    def initiator(cls, ad, tags, rk0, ckr0, e_i, e_r_pub, draws):
        r = cls()
        r.ad, r.tags, r.draws = ad, tags, draws
        r.dhs = e_i
        r.dhr = e_r_pub
        r.rk, r.cks = kdf_rk(rk0, x25519(e_i, e_r_pub))
        r.ckr = ckr0
        return r

    @classmethod
    def responder(cls, ad, tags, rk0, ckr0, e_r, draws):
        r = cls()
        r.ad, r.tags, r.draws = ad, tags, draws
        r.dhs, r.dhr, r.rk, r.cks, r.ckr = e_r, None, rk0, ckr0, None
        return r

    def encrypt(self, plaintext, ignore=False):
        if self.ns == 2**32 - 1:
            raise SuiteError("CounterExhausted")
        flags = (F_IGNORE if ignore else 0) | (F_ACK if self.send_ack else 0)
        extra = b""
        if self.ns == 0 and self.kem_ek is not None:
            flags |= F_EK
            extra += self.kem_ek
        if self.ns == 0 and self.kem_c_out is not None:
            flags |= F_CT
            extra += self.kem_c_out
            self.kem_c_out = None
        mk, self.cks = kdf_ck(self.cks)
        n = self.ns
        self.ns += 1
        ek_, ak, iv = message_keys(mk)
        ct = aes_ctr(ek_, iv, plaintext)
        body = (
            header(DATA, self.tags[0], self.tags[1])
            + bytes([flags])
            + pub(self.dhs)
            + self.pn.to_bytes(4, "big")
            + n.to_bytes(4, "big")
            + extra
            + len(ct).to_bytes(4, "big")
            + ct
        )
        revealed, self.reveal = self.reveal[:MAX_REVEAL_PER_MESSAGE], self.reveal[MAX_REVEAL_PER_MESSAGE:]
        flat = b"".join(revealed)
        return body + hmac256(ak, self.ad, body) + len(flat).to_bytes(4, "big") + flat

    def _open(self, mk, m):
        ek_, ak, iv = message_keys(mk)
        if not chmac_eq(hmac256(ak, self.ad, m["authenticated"]), m["mac"]):
            raise SuiteError("BadMac")
        return aes_ctr(ek_, iv, m["ciphertext"]), ak

    def _queue_reveal(self, ak):
        self.reveal.append(ak)
        del self.reveal[:-MAX_PENDING_REVEAL]

    def _store_skipped(self, entries):
        for key, mk in entries:
            self.skipped[key] = mk
            while len(self.skipped) > MAX_SKIPPED_KEYS:
                del self.skipped[next(iter(self.skipped))]

    @staticmethod
    def _walk(ck, dh, start, n):
        skipped = []
        for i in range(start, n):
            mk, ck = kdf_ck(ck)
            skipped.append(((dh, i), mk))
        mk, ck = kdf_ck(ck)
        return ck, skipped, mk

    def decrypt(self, raw):
        m = parse(raw)
        if m["type"] != DATA:
            raise SuiteError("UnexpectedMessage")
        if (m["sender"], m["receiver"]) != (self.tags[1], self.tags[0]):
            raise SuiteError("UnexpectedMessage")
        dh, n, pn, flags = m["dh"], m["n"], m["pn"], m["flags"]
        key = (dh, n)
        if key in self.skipped:
            pt, ak = self._open(self.skipped[key], m)
            del self.skipped[key]
            self._queue_reveal(ak)
            return pt
        if dh == self.dhr:
            if n < self.nr:
                raise SuiteError("NoKey")
            if n - self.nr > MAX_SKIP:
                raise SuiteError("TooFarAhead")
            ck, skipped, mk = self._walk(self.ckr, dh, self.nr, n)
            pt, ak = self._open(mk, m)
            self.ckr, self.nr = ck, n + 1
            self._store_skipped(skipped)
            self._queue_reveal(ak)
            return pt
        if dh in self.old_ratchet_keys:
            raise SuiteError("NoKey")  # a closed chain (§6.3 step 3)
        # DH ratchet step (§6.3 step 4).
        old = []
        if self.ckr is not None and pn > self.nr:
            if pn - self.nr > MAX_SKIP:
                raise SuiteError("TooFarAhead")
            ck = self.ckr
            for i in range(self.nr, pn):
                mk_i, ck = kdf_ck(ck)
                old.append(((self.dhr, i), mk_i))
        if n > MAX_SKIP:
            raise SuiteError("TooFarAhead")
        ack = bool(flags & F_ACK)
        if ack and self.pending_ss is None:
            raise SuiteError("ProtocolViolation")
        if m["c"] is not None and self.kem_dk is None:
            raise SuiteError("ProtocolViolation")
        rk1, ckr = kdf_rk(self.rk, x25519(self.dhs, dh), self.pending_ss if ack else None)
        ckr, skipped, mk = self._walk(ckr, dh, 0, n)
        pt, ak = self._open(mk, m)
        # Sending half: draws DHs', then m (if ek), then d, z (if a round opens).
        new_dhs = self.draws.take()
        ss_in = kem_decaps(self.kem_dk, m["c"]) if m["c"] is not None else None
        c_out = ss_out = None
        if m["ek"] is not None:
            ss_out, c_out = kem_encaps(m["ek"], self.draws.take())
        self.kem_countdown -= 1
        new_ek = new_dk = None
        if self.kem_countdown == 0:
            self.kem_countdown = KEM_INTERVAL
            new_ek, new_dk = kem_keygen(self.draws.take(), self.draws.take())
        rk2, cks = kdf_rk(rk1, x25519(new_dhs, dh), ss_in)
        # Commit.
        self._store_skipped(old + skipped)
        if self.dhr is not None:
            self.old_ratchet_keys = (self.old_ratchet_keys + [self.dhr])[-MAX_OLD_RATCHET_KEYS:]
        self.dhr, self.ckr, self.nr = dh, ckr, n + 1
        self.pn, self.ns = self.ns, 0
        self.dhs, self.rk, self.cks = new_dhs, rk2, cks
        self.send_ack = ss_in is not None
        self.kem_ek, self.kem_dk = new_ek, new_dk
        self.kem_c_out = c_out
        self.pending_ss = ss_out
        self._queue_reveal(ak)
        return pt

# ---- §15 direct start between pinned peers ------------------------------------------------

DIRECT_INIT_LEN = 1332
RESPONSE_MAC_AT = 1132  # RESPONSE⁻: everything but MAC_R
REPLAY_WINDOW = 32  # §15.3 step 5: the last 32 E_I answered


def direct_transcript_hash(direct_init_raw, response_raw):
    # §15.4: no ssid, no fingerprints apart from those inside DIRECT_INIT.
    return sha256(L_DIRECT_TRANSCRIPT, direct_init_raw, response_raw[:RESPONSE_MAC_AT])


def derive_direct(th_d, dh1, dh2, dh3, ss):
    ikm = dh1 + dh2 + dh3 + ss  # IKM_D: 128 bytes, no K_v3
    assert len(ikm) == 128
    return {
        "rk0": hkdf(th_d, ikm, L_ROOT, 32),
        "ckr0": hkdf(th_d, ikm, L_RESP_CHAIN, 32),
        "kc_r": hkdf(th_d, ikm, L_RESP_CONFIRM, 32),
        "kc_i": hkdf(th_d, ikm, L_INIT_CONFIRM, 32),
    }


class Party:
    """One end of a direct start: our identity secret and v3 fingerprint, our pins (newest first)."""

    def __init__(self, identity_secret, fingerprint, pins, tag):
        self.ik, self.fp, self.pins, self.tag = identity_secret, fingerprint, pins, tag


def direct_start(draws, me, named):
    """§15.1–15.2: the initiator uses its first pin; `named` is the receiver tag (0 = any)."""
    if not me.pins:
        raise SuiteError("no pin: the v3 query goes out instead")
    pin = me.pins[0]
    e_i = draws.take()
    d, z = draws.take(), draws.take()
    ek, dk = kem_keygen(d, z)
    msg = (
        header(DIRECT_INIT, me.tag, named)
        + me.fp
        + pin["fingerprint"]
        + pub(me.ik)
        + pin["identity"]
        + pub(e_i)
        + ek
    )
    assert len(msg) == DIRECT_INIT_LEN
    state = {"e_i": e_i, "dk": dk, "direct_init": msg, "named": named, "pin": pin}
    return state, msg


def direct_respond(draws, me, direct_init_raw, answered):
    """§15.3, steps 1–6, then §15.4; `answered` is the list of E_I answered so far."""
    m = parse(direct_init_raw)  # strict (§3); suite ≠ 1 is refused there (step 6)
    if m["type"] != DIRECT_INIT:
        raise SuiteError("UnexpectedMessage")
    # 1. Tags as for a v3 DH-Commit.
    if m["receiver"] not in (0, me.tag) or m["sender"] == me.tag:
        raise SuiteError("ForOtherInstance")
    # 2. Pins present (the suite, our identity and our v3 key are, by construction).
    if not me.pins:
        raise SuiteError("UnexpectedMessage")
    # 3. A pin for FP_I with IK_I; FP_R and IK_R ours.
    if not any(p["fingerprint"] == m["fp_i"] and p["identity"] == m["ik_i"] for p in me.pins):
        raise SuiteError("UnexpectedIdentity")
    if m["fp_r"] != me.fp or m["ik_r"] != pub(me.ik):
        raise SuiteError("UnexpectedIdentity")
    # 4. (We have no start of our own waiting.) 5. Replays.
    if m["e_i"] in answered:
        raise SuiteError("NoKey")
    # 6. As §5.2: e_R, then m.
    e_r = draws.take()
    ss, c = kem_encaps(m["ek"], draws.take())
    dh1, dh2, dh3 = x25519(e_r, m["ik_i"]), x25519(me.ik, m["e_i"]), x25519(e_r, m["e_i"])
    tags = (me.tag, m["sender"])
    partial = header(RESPONSE, tags[0], tags[1]) + pub(e_r) + c
    th_d = direct_transcript_hash(direct_init_raw, partial)
    k = derive_direct(th_d, dh1, dh2, dh3, ss)
    response = partial + hmac256(k["kc_r"], th_d)
    ratchet = Ratchet.responder(th_d, tags, k["rk0"], k["ckr0"], e_r, draws)
    answered.append(m["e_i"])  # remembered once answered
    del answered[:-REPLAY_WINDOW]
    return ratchet, k["kc_i"], th_d, response


def direct_receive_response(state, draws, me, response_raw):
    """§15.4, last paragraph: the initiator's side of a RESPONSE to its DIRECT_INIT."""
    m = parse(response_raw)
    if m["type"] != RESPONSE or m["receiver"] != me.tag:
        raise SuiteError("UnexpectedMessage")
    if state["named"] != 0 and m["sender"] != state["named"]:
        raise SuiteError("UnexpectedMessage")
    if m["sender"] == me.tag:
        raise SuiteError("UnexpectedMessage")
    ik_r_pub = state["pin"]["identity"]
    dh1 = x25519(me.ik, m["e_r"])
    dh2 = x25519(state["e_i"], ik_r_pub)
    dh3 = x25519(state["e_i"], m["e_r"])
    ss = kem_decaps(state["dk"], m["c"])
    th_d = direct_transcript_hash(state["direct_init"], response_raw)
    k = derive_direct(th_d, dh1, dh2, dh3, ss)
    if not chmac_eq(hmac256(k["kc_r"], th_d), m["mac"]):
        raise SuiteError("BadMac")
    tags = (me.tag, m["sender"])  # the ratchet's tags are the RESPONSE's
    confirm = header(CONFIRM, tags[0], tags[1]) + hmac256(k["kc_i"], th_d)
    ratchet = Ratchet.initiator(th_d, tags, k["rk0"], k["ckr0"], state["e_i"], m["e_r"], draws)
    return ratchet, confirm, th_d


def replay_direct(t):
    def party(p, tag):
        pin = {"identity": h(p["pin"]["identity"]), "fingerprint": h(p["pin"]["fingerprint"])}
        return Party(h(p["identity_secret"]), h(p["fingerprint"]), [pin], tag)

    inst = t["instances"]
    me_i = party(t["initiator"], inst["initiator"])
    me_r = party(t["responder"], inst["responder"])
    draws_i = Draws(h(x) for x in t["initiator"]["draws"])
    draws_r = Draws(h(x) for x in t["responder"]["draws"])
    hs = t["handshake"]
    direct_init_raw = from_otr(hs["direct_init"])
    response_raw = from_otr(hs["response"])
    confirm_raw = from_otr(hs["confirm"])

    state, direct_init = direct_start(draws_i, me_i, inst["named"])
    if direct_init != direct_init_raw:
        raise SuiteError("DIRECT_INIT differs from the one derived from the initiator's keys, pin and draws")
    answered = []
    ratchet_r, kc_i, th_d, response = direct_respond(draws_r, me_r, direct_init_raw, answered)
    if response != response_raw:
        raise SuiteError("RESPONSE differs from the one derived from the responder's keys and draws")
    # The same DIRECT_INIT again is a replay and gets no answer (§15.3 step 5).
    try:
        direct_respond(Draws([]), me_r, direct_init_raw, answered)
        raise SuiteError("a replayed DIRECT_INIT was answered")
    except SuiteError as e:
        if str(e) != "NoKey":
            raise
    ratchet_i, confirm, th_d_i = direct_receive_response(state, draws_i, me_i, response_raw)
    if confirm != confirm_raw or th_d_i != th_d:
        raise SuiteError("CONFIRM differs")
    confirmed = False
    if hs["confirm_delivered"]:
        responder_confirm(kc_i, th_d, confirm_raw)
        confirmed = True

    for i, msg in enumerate(t["messages"]):
        if msg["to"] == "responder":
            pt = ratchet_r.decrypt(from_otr(msg["wire"]))
            confirmed = True  # an authenticated DATA from I confirms (§5.2, §15.3)
        else:
            if not confirmed:
                raise SuiteError("the responder sent DATA before it was confirmed")
            pt = ratchet_i.decrypt(from_otr(msg["wire"]))
        print(i, pt.hex(), pt.decode("utf-8", "replace"))


# ---- replay of a recorded conversation -----------------------------------------------------

def h(x):
    return bytes.fromhex(x)


def replay(path):
    t = json.load(open(path))
    if t.get("start") == "direct":
        return replay_direct(t)
    binding = {k: h(v) for k, v in t["binding"].items()}
    tag_i, tag_r = t["instances"]["initiator"], t["instances"]["responder"]
    ik_i = h(t["initiator"]["identity_secret"])
    ik_r = h(t["responder"]["identity_secret"])
    draws_i = Draws(h(x) for x in t["initiator"]["draws"])
    draws_r = Draws(h(x) for x in t["responder"]["draws"])
    init_raw = from_otr(t["handshake"]["init"])
    response_raw = from_otr(t["handshake"]["response"])
    confirm_raw = from_otr(t["handshake"]["confirm"])

    # The initiator's side: its INIT must be what our derivation gives.
    state, init = initiator_start(draws_i, ik_i, pub(ik_r), binding, (tag_i, tag_r))
    if init != init_raw:
        raise SuiteError("INIT differs from the one derived from the initiator's draws")
    # The responder's side: RESPONSE must be byte-identical.
    ratchet_r, kc_i, response = responder_respond(draws_r, ik_r, pub(ik_i), binding, (tag_r, tag_i), init_raw)
    if response != response_raw:
        raise SuiteError("RESPONSE differs from the one derived from the responder's draws")
    ratchet_i, confirm, th, _ = initiator_receive(state, draws_i, binding, (tag_i, tag_r), response_raw)
    if confirm != confirm_raw:
        raise SuiteError("CONFIRM differs")
    responder_confirm(kc_i, th, confirm_raw)

    # One line per data message, in the order given: index, plaintext in hex, plaintext.
    for i, msg in enumerate(t["messages"]):
        receiver = ratchet_r if msg["to"] == "responder" else ratchet_i
        pt = receiver.decrypt(from_otr(msg["wire"]))
        print(i, pt.hex(), pt.decode("utf-8", "replace"))


# ---- known-answer vectors --------------------------------------------------------------------

class KatDraws(Draws):
    """Deterministic draws: SHA256(label ‖ counter)."""

    def __init__(self, label):
        super().__init__([])
        self.label = label
        self.log = []

    def take(self):
        v = sha256(self.label, len(self.log).to_bytes(4, "big"))
        self.log.append(v)
        return v


def kat_conversation(parties, lines, turns):
    """Append send/recv lines of a scripted conversation between parties "I" and "R"."""
    # A conversation: turns of 1–3 messages, so KEM rounds open and close; one message lost
    # for good and one delivered late.
    sent = []
    script = []
    for turn in range(turns):
        s, r = ("I", "R") if turn % 2 == 0 else ("R", "I")
        for k in range(turn % 3 + 1):
            text = f"turn {turn} message {k} from {s}".encode()
            wire = parties[s].encrypt(text, ignore=(turn == 5 and k == 1))
            sent.append((s, r, text, wire))
            idx = len(sent) - 1
            lines.append(f"send = {s} {text.hex()} {wire.hex()}")
            if (turn, k) == (7, 0):
                late = idx  # delivered at the end of turn 8
                continue
            if (turn, k) == (11, 1):
                continue  # lost
            script.append(idx)
            got = parties[r].decrypt(wire)
            assert got == text
            lines.append(f"recv = {r} {idx}")
        if turn == 8:
            late_to = sent[late][1]
            got = parties[late_to].decrypt(sent[late][3])
            assert got == sent[late][2]
            lines.append(f"recv = {late_to} {late}")


def make_kat(path):
    binding = {
        "ssid": bytes(range(8)),
        "v3_key": sha256(b"kat v3 key"),
        "fp_i": sha256(b"kat fp i")[:20],
        "fp_r": sha256(b"kat fp r")[:20],
    }
    ik_i, ik_r = sha256(b"kat identity i"), sha256(b"kat identity r")
    tag_i, tag_r = 0x1234_5678, 0x0000_0A0B
    di, dr = KatDraws(b"kat draws i"), KatDraws(b"kat draws r")
    state, init = initiator_start(di, ik_i, pub(ik_r), binding, (tag_i, tag_r))
    ratchet_r, kc_i, response = responder_respond(dr, ik_r, pub(ik_i), binding, (tag_r, tag_i), init)
    ratchet_i, confirm, th, keys = initiator_receive(state, di, binding, (tag_i, tag_r), response)
    responder_confirm(kc_i, th, confirm)
    parties = {"I": ratchet_i, "R": ratchet_r}
    lines = [
        "# Known-answer vectors for docs/modern-suite.md, generated by tests/modern_py/verify.py",
        "# (an independent implementation). Regenerate: python3 tests/modern_py/verify.py --make-kat <this file>",
        f"ssid = {binding['ssid'].hex()}",
        f"v3_key = {binding['v3_key'].hex()}",
        f"fp_i = {binding['fp_i'].hex()}",
        f"fp_r = {binding['fp_r'].hex()}",
        f"identity_i = {ik_i.hex()}",
        f"identity_r = {ik_r.hex()}",
        f"tag_i = {tag_i:08x}",
        f"tag_r = {tag_r:08x}",
        f"init = {init.hex()}",
        f"response = {response.hex()}",
        f"confirm = {confirm.hex()}",
        f"transcript_hash = {th.hex()}",
        f"rk0 = {keys['rk0'].hex()}",
    ]
    kat_conversation(parties, lines, 22)
    # Every random value each party drew, in order (docs/modern-suite.md §9).
    lines += [f"draw_i = {v.hex()}" for v in di.log]
    lines += [f"draw_r = {v.hex()}" for v in dr.log]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")



def make_kat_direct(path):
    """Known-answer vectors for the direct start (§15): DIRECT_INIT to receiver 0, RESPONSE,
    CONFIRM, then a conversation with KEM rounds, a lost and a late message."""
    ik_i, ik_r = sha256(b"kat direct identity i"), sha256(b"kat direct identity r")
    fp_i, fp_r = sha256(b"kat direct fp i")[:20], sha256(b"kat direct fp r")[:20]
    tag_i, tag_r, named = 0x2468_ACE0, 0x0000_0111, 0
    me_i = Party(ik_i, fp_i, [{"identity": pub(ik_r), "fingerprint": fp_r}], tag_i)
    me_r = Party(ik_r, fp_r, [{"identity": pub(ik_i), "fingerprint": fp_i}], tag_r)
    di, dr = KatDraws(b"kat direct draws i"), KatDraws(b"kat direct draws r")
    state, direct_init = direct_start(di, me_i, named)
    ratchet_r, kc_i, th_d, response = direct_respond(dr, me_r, direct_init, [])
    ratchet_i, confirm, th_d_i = direct_receive_response(state, di, me_i, response)
    assert th_d_i == th_d
    responder_confirm(kc_i, th_d, confirm)
    lines = [
        "# Known-answer vectors for the direct start of docs/modern-suite.md §15, generated by",
        "# tests/modern_py/verify.py (an independent implementation).",
        "# Regenerate: python3 tests/modern_py/verify.py --make-kat-direct <this file>",
        f"fp_i = {fp_i.hex()}",
        f"fp_r = {fp_r.hex()}",
        f"identity_i = {ik_i.hex()}",
        f"identity_r = {ik_r.hex()}",
        f"tag_i = {tag_i:08x}",
        f"tag_r = {tag_r:08x}",
        f"named = {named:08x}",
        f"direct_init = {direct_init.hex()}",
        f"response = {response.hex()}",
        f"confirm = {confirm.hex()}",
        f"transcript_hash = {th_d.hex()}",
    ]
    kat_conversation({"I": ratchet_i, "R": ratchet_r}, lines, 22)
    lines += [f"draw_i = {v.hex()}" for v in di.log]
    lines += [f"draw_r = {v.hex()}" for v in dr.log]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--make-kat":
        make_kat(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--make-kat-direct":
        make_kat_direct(sys.argv[2])
    elif len(sys.argv) == 2:
        try:
            replay(sys.argv[1])
        except SuiteError as e:
            print(f"verify.py: {e}", file=sys.stderr)
            sys.exit(1)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
