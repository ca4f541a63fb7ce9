//! The Double Ratchet (Signal's specification) with a sparse ML-KEM ratchet
//! (docs/modern-suite.md §6–§7).
//!
//! - DH ratchet: X25519; root KDF: HKDF-SHA256 (salt = root key); chain KDF: HMAC-SHA256 with
//!   constants 0x01 (message key) and 0x02 (next chain key).
//! - A message key expands (HKDF) into an AES-256-CTR key, an HMAC-SHA256 key and an IV; the MAC
//!   covers the transcript hash and every byte of the message before the MAC.
//! - Skipped keys: at most [`MAX_SKIP`] ahead in a chain, [`MAX_SKIPPED_KEYS`] in all.
//! - MAC keys of received messages are revealed on our next messages.
//! - KEM ratchet: every [`KEM_INTERVAL`]-th sending chain opens with a fresh ML-KEM key; the
//!   peer's answering chain opens with a ciphertext; our next chain (flag KEM_ACK) and the
//!   peer's matching receiving chain mix the shared secret into the root key.
//!
//! A message is processed on copies: nothing changes unless it authenticates.

use std::collections::VecDeque;

use zeroize::Zeroizing;

use super::prims::{
    self, aes256_ctr, hkdf_sha256, hmac_sha256, kem_encapsulate, mac_eq, KemDecapsulationKey,
    Secret32, X25519Secret, KEM_CT_LEN,
};
use super::wire::{Data, Instances, RatchetHeader, FLAG_IGNORE_UNREADABLE, FLAG_KEM_ACK};
use super::{
    labels, ModernError, Rng, KEM_INTERVAL, MAX_OLD_RATCHET_KEYS, MAX_PENDING_REVEAL,
    MAX_REVEAL_PER_MESSAGE, MAX_SKIP, MAX_SKIPPED_KEYS, SUITE_V1,
};

/// KDF_RK: (new root key, new chain key) = HKDF(salt = rk, ikm = dh ‖ kem?, RATCHET, 64).
fn kdf_rk(rk: &[u8; 32], dh: &[u8; 32], kem: Option<&[u8; 32]>) -> (Secret32, Secret32) {
    let mut ikm = Zeroizing::new(Vec::with_capacity(64));
    ikm.extend_from_slice(dh);
    if let Some(ss) = kem {
        ikm.extend_from_slice(ss);
    }
    let mut okm = Zeroizing::new([0u8; 64]);
    hkdf_sha256(rk, &ikm, labels::RATCHET, okm.as_mut());
    let mut root = Zeroizing::new([0u8; 32]);
    let mut chain = Zeroizing::new([0u8; 32]);
    root.copy_from_slice(&okm[..32]);
    chain.copy_from_slice(&okm[32..]);
    (root, chain)
}

/// KDF_CK: (message key, next chain key).
fn kdf_ck(ck: &[u8; 32]) -> (Secret32, Secret32) {
    (
        Zeroizing::new(hmac_sha256(ck, &[&[0x01]])),
        Zeroizing::new(hmac_sha256(ck, &[&[0x02]])),
    )
}

/// What one message key expands to.
struct MessageKeys {
    enc: Secret32,
    auth: Secret32,
    iv: Zeroizing<[u8; 16]>,
}

fn message_keys(mk: &[u8; 32]) -> MessageKeys {
    let mut okm = Zeroizing::new([0u8; 80]);
    hkdf_sha256(&[0u8; 32], mk, labels::MESSAGE_KEYS, okm.as_mut());
    let mut k = MessageKeys {
        enc: Zeroizing::new([0; 32]),
        auth: Zeroizing::new([0; 32]),
        iv: Zeroizing::new([0; 16]),
    };
    k.enc.copy_from_slice(&okm[..32]);
    k.auth.copy_from_slice(&okm[32..64]);
    k.iv.copy_from_slice(&okm[64..]);
    k
}

/// The MAC of a data message: HMAC-SHA256(auth, transcript hash ‖ authenticated bytes).
fn data_mac(auth: &[u8; 32], ad: &[u8; 32], authenticated: &[u8]) -> [u8; 32] {
    hmac_sha256(auth, &[ad, authenticated])
}

/// A received message that authenticated.
#[derive(Clone, PartialEq, Eq)]
pub struct Received {
    /// The plaintext (text, optional NUL and v3 TLVs); wiped on drop.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The sender set IGNORE_UNREADABLE (heartbeat, TLV-only message).
    pub ignore_unreadable: bool,
    /// MAC keys the peer published (already useless to anyone; for the record).
    pub revealed: usize,
}

impl core::fmt::Debug for Received {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Received")
            .field("plaintext_len", &self.plaintext.len())
            .field("ignore_unreadable", &self.ignore_unreadable)
            .finish_non_exhaustive()
    }
}

/// Skipped message keys, oldest first, bounded by [`MAX_SKIPPED_KEYS`].
#[derive(Default)]
#[cfg_attr(any(test, feature = "fuzzing"), derive(Clone))]
struct SkippedKeys {
    keys: VecDeque<([u8; 32], u32, Secret32)>,
}

impl SkippedKeys {
    fn find(&self, ratchet_key: &[u8; 32], n: u32) -> Option<usize> {
        self.keys
            .iter()
            .position(|(k, i, _)| *i == n && k == ratchet_key)
    }

    fn insert_all(&mut self, new: Vec<([u8; 32], u32, Secret32)>) {
        for entry in new {
            if self.keys.len() == MAX_SKIPPED_KEYS {
                self.keys.pop_front();
            }
            self.keys.push_back(entry);
        }
    }
}

/// Keys derived for a message before it authenticates.
struct Walk {
    chain: Secret32,
    skipped: Vec<([u8; 32], u32, Secret32)>,
    mk: Secret32,
}

/// Walk a chain from `nr` to message `n`: keys for the messages in between, then `n`'s.
fn walk(ck: &[u8; 32], ratchet_key: &[u8; 32], nr: u32, n: u32) -> Walk {
    let mut chain = Zeroizing::new(*ck);
    let mut skipped = Vec::new();
    let mut i = nr;
    loop {
        let (mk, next) = kdf_ck(&chain);
        chain = next;
        if i == n {
            return Walk { chain, skipped, mk };
        }
        skipped.push((*ratchet_key, i, mk));
        i += 1;
    }
}

/// Message keys of the rest of a chain, up to (not including) `until`.
fn skip_rest(
    ck: &[u8; 32],
    ratchet_key: &[u8; 32],
    nr: u32,
    until: u32,
) -> Vec<([u8; 32], u32, Secret32)> {
    let mut chain = Zeroizing::new(*ck);
    let mut out = Vec::new();
    for i in nr..until {
        let (mk, next) = kdf_ck(&chain);
        chain = next;
        out.push((*ratchet_key, i, mk));
    }
    out
}

/// The Double Ratchet state of one side of a modern session.
#[cfg_attr(any(test, feature = "fuzzing"), derive(Clone))]
pub struct Ratchet {
    /// Transcript hash of the handshake: associated data of every message.
    ad: [u8; 32],
    /// Instance tags as we send them.
    instances: Instances,
    rk: Secret32,
    dhs: X25519Secret,
    dhs_public: [u8; 32],
    dhr: Option<[u8; 32]>,
    cks: Secret32,
    ns: u32,
    pn: u32,
    ckr: Option<Secret32>,
    nr: u32,
    skipped: SkippedKeys,
    /// The peer's ratchet keys before `dhr`, newest last: a message under one of them that
    /// has no skipped key is a replay (NoKey), not a new ratchet step.
    old_ratchet_keys: VecDeque<[u8; 32]>,
    /// Our current sending chain opened a KEM round: its decapsulation key.
    send_kem: Option<KemDecapsulationKey>,
    /// Ciphertext for the first message of our current sending chain.
    send_kem_ct: Option<Box<[u8; KEM_CT_LEN]>>,
    /// Our current sending chain mixed in the peer's KEM secret (flag KEM_ACK).
    send_ack: bool,
    /// The secret we encapsulated for the peer, until its next chain says whether it mixed it.
    pending_ss: Option<Secret32>,
    /// Sending chains to open before the next KEM round.
    kem_countdown: u32,
    /// MAC keys of received messages, to publish.
    reveal: VecDeque<[u8; 32]>,
}

impl core::fmt::Debug for Ratchet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ratchet")
            .field("instances", &self.instances)
            .field("ratchet_key", &prims::hex(&self.dhs_public))
            .field("ns", &self.ns)
            .field("nr", &self.nr)
            .field("skipped", &self.skipped.keys.len())
            .field("kem_round_open", &self.send_kem.is_some())
            .finish_non_exhaustive()
    }
}

impl Ratchet {
    /// The initiator's state after the handshake: its ephemeral becomes its first ratchet key
    /// and its first sending chain is KDF_RK(rk0, DH(e_i, e_r)); it receives the responder's
    /// first chain under the responder's ephemeral.
    pub(crate) fn new_initiator(
        ad: [u8; 32],
        instances: Instances,
        rk0: &[u8; 32],
        responder_chain: Secret32,
        ephemeral: X25519Secret,
        responder_ephemeral: [u8; 32],
    ) -> Result<Self, ModernError> {
        let dh = ephemeral
            .diffie_hellman(&responder_ephemeral)
            .ok_or(ModernError::BadKey)?;
        let (rk, cks) = kdf_rk(rk0, &dh, None);
        let dhs_public = ephemeral.public();
        Ok(Self {
            ad,
            instances,
            rk,
            dhs: ephemeral,
            dhs_public,
            dhr: Some(responder_ephemeral),
            cks,
            ns: 0,
            pn: 0,
            ckr: Some(responder_chain),
            nr: 0,
            skipped: SkippedKeys::default(),
            old_ratchet_keys: VecDeque::new(),
            send_kem: None,
            send_kem_ct: None,
            send_ack: false,
            pending_ss: None,
            kem_countdown: KEM_INTERVAL,
            reveal: VecDeque::new(),
        })
    }

    /// The responder's state: its ephemeral is its first ratchet key, its first sending
    /// chain comes from the handshake, it has no receiving chain yet.
    pub(crate) fn new_responder(
        ad: [u8; 32],
        instances: Instances,
        rk0: Secret32,
        responder_chain: Secret32,
        ephemeral: X25519Secret,
    ) -> Self {
        let dhs_public = ephemeral.public();
        Self {
            ad,
            instances,
            rk: rk0,
            dhs: ephemeral,
            dhs_public,
            dhr: None,
            cks: responder_chain,
            ns: 0,
            pn: 0,
            ckr: None,
            nr: 0,
            skipped: SkippedKeys::default(),
            old_ratchet_keys: VecDeque::new(),
            send_kem: None,
            send_kem_ct: None,
            send_ack: false,
            pending_ss: None,
            kem_countdown: KEM_INTERVAL,
            reveal: VecDeque::new(),
        }
    }

    /// The transcript hash this session is bound to.
    pub fn transcript_hash(&self) -> &[u8; 32] {
        &self.ad
    }

    /// Skipped message keys held now.
    pub fn skipped_keys(&self) -> usize {
        self.skipped.keys.len()
    }

    /// Bytes of key material this state holds at most (for the per-session memory figure).
    pub fn max_state_bytes() -> usize {
        core::mem::size_of::<Self>()
            + MAX_SKIPPED_KEYS * core::mem::size_of::<([u8; 32], u32, Secret32)>()
            + MAX_PENDING_REVEAL * 32
            + MAX_OLD_RATCHET_KEYS * 32
            + core::mem::size_of::<KemDecapsulationKey>()
            + KEM_CT_LEN
    }

    /// Bytes of a state with no skipped keys but a KEM round open and a ciphertext waiting.
    pub fn fresh_state_bytes() -> usize {
        core::mem::size_of::<Self>() + core::mem::size_of::<KemDecapsulationKey>() + KEM_CT_LEN
    }

    /// Encrypt one message. `ignore_unreadable` marks heartbeats and TLV-only messages.
    pub fn encrypt(
        &mut self,
        plaintext: &[u8],
        ignore_unreadable: bool,
    ) -> Result<Data, ModernError> {
        if self.ns == u32::MAX {
            return Err(ModernError::CounterExhausted);
        }
        let first = self.ns == 0;
        let mut flags = 0;
        if ignore_unreadable {
            flags |= FLAG_IGNORE_UNREADABLE;
        }
        if self.send_ack {
            flags |= FLAG_KEM_ACK;
        }
        let header = RatchetHeader {
            flags,
            ratchet_key: self.dhs_public,
            pn: self.pn,
            n: self.ns,
            kem_ek: match (&self.send_kem, first) {
                (Some(dk), true) => Some(Box::new(*dk.encapsulation_key())),
                _ => None,
            },
            kem_ct: if first { self.send_kem_ct.take() } else { None },
        };
        let (mk, next) = kdf_ck(&self.cks);
        self.cks = next;
        self.ns += 1;
        let keys = message_keys(&mk);
        let mut ciphertext = plaintext.to_vec();
        aes256_ctr(&keys.enc, &keys.iv, &mut ciphertext);
        let take = self.reveal.len().min(MAX_REVEAL_PER_MESSAGE);
        let revealed = self.reveal.drain(..take).collect();
        let mut data = Data {
            instances: self.instances,
            suite: SUITE_V1,
            header,
            ciphertext,
            mac: [0; 32],
            revealed,
        };
        data.mac = data_mac(&keys.auth, &self.ad, &data.encode_authenticated());
        Ok(data)
    }

    fn queue_reveal(&mut self, auth: &[u8; 32]) {
        if self.reveal.len() == MAX_PENDING_REVEAL {
            self.reveal.pop_front();
        }
        self.reveal.push_back(*auth);
    }

    /// Check a message key against the message; on success the plaintext and the MAC key.
    fn open(&self, mk: &[u8; 32], data: &Data) -> Result<(Received, Secret32), ModernError> {
        let keys = message_keys(mk);
        let expected = data_mac(&keys.auth, &self.ad, &data.encode_authenticated());
        if !mac_eq(&expected, &data.mac) {
            return Err(ModernError::BadMac);
        }
        let mut plaintext = Zeroizing::new(data.ciphertext.clone());
        aes256_ctr(&keys.enc, &keys.iv, &mut plaintext);
        Ok((
            Received {
                plaintext,
                ignore_unreadable: data.ignore_unreadable(),
                revealed: data.revealed.len(),
            },
            keys.auth,
        ))
    }

    /// Decrypt and authenticate one message. On any error nothing changed (the RNG may have
    /// been drawn from).
    pub fn decrypt(&mut self, rng: &mut impl Rng, data: &Data) -> Result<Received, ModernError> {
        if data.suite != SUITE_V1 {
            return Err(ModernError::UnsupportedSuite(data.suite));
        }
        if data.instances.sender != self.instances.receiver
            || data.instances.receiver != self.instances.sender
        {
            return Err(ModernError::UnexpectedMessage);
        }
        let h = &data.header;
        // 1. A message we skipped earlier.
        if let Some(i) = self.skipped.find(&h.ratchet_key, h.n) {
            let mk = self
                .skipped
                .keys
                .get(i)
                .map(|(_, _, mk)| mk.clone())
                .ok_or(ModernError::NoKey)?;
            let (received, auth) = self.open(&mk, data)?;
            self.skipped.keys.remove(i);
            self.queue_reveal(&auth);
            return Ok(received);
        }
        // 2. The current receiving chain.
        if self.dhr == Some(h.ratchet_key) {
            let ckr = self.ckr.as_ref().ok_or(ModernError::NoKey)?;
            if h.n < self.nr {
                return Err(ModernError::NoKey);
            }
            if h.n - self.nr > MAX_SKIP {
                return Err(ModernError::TooFarAhead);
            }
            let nr = h.n.checked_add(1).ok_or(ModernError::CounterExhausted)?;
            let w = walk(ckr, &h.ratchet_key, self.nr, h.n);
            let (received, auth) = self.open(&w.mk, data)?;
            self.ckr = Some(w.chain);
            self.nr = nr;
            self.skipped.insert_all(w.skipped);
            self.queue_reveal(&auth);
            return Ok(received);
        }
        // 3. A chain we have closed: its remaining keys are all in the store.
        if self.old_ratchet_keys.contains(&h.ratchet_key) {
            return Err(ModernError::NoKey);
        }
        // 4. A new ratchet key: a DH ratchet step.
        self.ratchet_step(rng, data)
    }

    fn ratchet_step(&mut self, rng: &mut impl Rng, data: &Data) -> Result<Received, ModernError> {
        let h = &data.header;
        // Keys left in the chain being closed, up to the count the peer says it sent.
        let mut skipped = Vec::new();
        if let (Some(ckr), Some(dhr)) = (&self.ckr, &self.dhr) {
            if h.pn > self.nr {
                if h.pn - self.nr > MAX_SKIP {
                    return Err(ModernError::TooFarAhead);
                }
                skipped = skip_rest(ckr, dhr, self.nr, h.pn);
            }
        }
        if h.n > MAX_SKIP {
            return Err(ModernError::TooFarAhead);
        }
        let nr = h.n.checked_add(1).ok_or(ModernError::CounterExhausted)?;
        // KEM fields must answer something we have open.
        let ack = h.flags & FLAG_KEM_ACK != 0;
        if ack && self.pending_ss.is_none() {
            return Err(ModernError::ProtocolViolation);
        }
        if h.kem_ct.is_some() && self.send_kem.is_none() {
            return Err(ModernError::ProtocolViolation);
        }
        // Receiving half.
        let dh = self
            .dhs
            .diffie_hellman(&h.ratchet_key)
            .ok_or(ModernError::BadKey)?;
        let mixed_in = if ack {
            self.pending_ss.as_deref()
        } else {
            None
        };
        let (rk1, ckr) = kdf_rk(&self.rk, &dh, mixed_in);
        let w = walk(&ckr, &h.ratchet_key, 0, h.n);
        let (received, auth) = self.open(&w.mk, data)?;
        skipped.extend(w.skipped);

        // Sending half: draws in the documented order (ratchet key, m, d, z).
        let dhs = X25519Secret::random(rng);
        let ss_dec = match (&h.kem_ct, &self.send_kem) {
            (Some(ct), Some(dk)) => Some(dk.decapsulate(ct)),
            _ => None,
        };
        let (send_kem_ct, pending_ss) = match &h.kem_ek {
            Some(ek) => {
                let m = prims::draw32(rng);
                let (ct, ss) = kem_encapsulate(ek, &m).ok_or(ModernError::BadKey)?;
                (Some(Box::new(ct)), Some(ss))
            }
            None => (None, None),
        };
        let mut countdown = self.kem_countdown.saturating_sub(1);
        let send_kem = if countdown == 0 {
            countdown = KEM_INTERVAL;
            Some(KemDecapsulationKey::random(rng))
        } else {
            None
        };
        let dh_send = dhs
            .diffie_hellman(&h.ratchet_key)
            .ok_or(ModernError::BadKey)?;
        let (rk2, cks) = kdf_rk(&rk1, &dh_send, ss_dec.as_deref());

        // Commit.
        self.skipped.insert_all(skipped);
        if let Some(old) = self.dhr.replace(h.ratchet_key) {
            if self.old_ratchet_keys.len() == MAX_OLD_RATCHET_KEYS {
                self.old_ratchet_keys.pop_front();
            }
            self.old_ratchet_keys.push_back(old);
        }
        self.ckr = Some(w.chain);
        self.nr = nr;
        self.pn = self.ns;
        self.ns = 0;
        self.dhs_public = dhs.public();
        self.dhs = dhs;
        self.rk = rk2;
        self.cks = cks;
        self.send_ack = ss_dec.is_some();
        self.send_kem = send_kem;
        self.send_kem_ct = send_kem_ct;
        self.pending_ss = pending_ss;
        self.kem_countdown = countdown;
        self.queue_reveal(&auth);
        Ok(received)
    }
}

#[cfg(test)]
pub(crate) mod tests;
