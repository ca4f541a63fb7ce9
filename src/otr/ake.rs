//! The authenticated key exchange (spec: "Authenticated Key Exchange (AKE)"), a SIGMA variant:
//!
//! ```text
//! Bob                                   Alice
//! DhCommit (AES_r(g^x), SHA256(g^x)) ->
//!                                    <- DhKey (g^y)
//! RevealSignature (r, AES_c(X_B), MAC) ->
//!                                    <- Signature (AES_c'(X_A), MAC)
//! ```
//!
//! One state per spec authstate; every message arriving in a state where the spec says
//! "ignore" returns an [`AkeError`] that the session treats as "ignored", never as fatal.

use std::fmt;

use zeroize::Zeroizing;

use super::crypto::dsa::{DsaPrivateKey, DsaPublicKey};
use super::crypto::kdf::{ake_keys, AkeKeys};
use super::crypto::{aes_ctr, mac, modp};
use super::keys::DhKeyPair;
use super::wire::messages::{DhCommit, DhKey, ProtocolVersion, RevealSignature, Signature};
use super::wire::reader::Reader;
use super::wire::writer::Writer;

/// libotr always numbers the DH key used in the AKE 1 (auth.c), for both sides.
pub const AKE_KEYID: u32 = 1;

/// How long a DH-Commit sent from the master context stays answerable (libotr:
/// `MAX_AKE_WAIT_TIME`), so that several logged-in instances of the buddy can reply.
pub const COMMIT_LIFETIME_SECS: u64 = 60;

/// Why an AKE message was not acted on. The spec's answer to all of these is to ignore the
/// message; the variants exist for diagnostics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AkeError {
    /// The message is not expected in the current authstate.
    WrongState,
    /// The message's protocol version differs from the exchange in progress.
    VersionMismatch,
    /// A field did not parse.
    Malformed,
    /// The revealed g^x does not match the committed hash.
    BadCommitment,
    /// A DH public value outside [2, p-2].
    BadGroupElement,
    /// The MAC over the encrypted signature does not verify.
    BadMac,
    /// The DSA signature does not verify, or the key id is zero.
    BadSignature,
    /// The peer's DH value is our own: our messages are being reflected back to us.
    Reflected,
    /// Our commit and the peer's crossed and ours is the lower: we stay responder, and a
    /// DH-Key to our commit is ignored.
    CommitCollisionLost,
    /// The exchange completed, but the same exchange (same shared secret) is already private
    /// on another instance: a replay under an instance tag the AKE does not authenticate.
    DuplicateExchange,
}

/// The variant's name: a fact for a debug line; the wording a user reads is the host's.
impl fmt::Display for AkeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What the AKE produced: the keys and identity the data phase starts from.
pub struct AkeSuccess {
    pub version: ProtocolVersion,
    pub our_dh: DhKeyPair,
    pub our_keyid: u32,
    pub their_public: modp::Int,
    pub their_keyid: u32,
    pub their_long_term: DsaPublicKey,
    pub ssid: [u8; 8],
    /// Which half of the ssid to show in bold: chosen by comparing the DH public values, so
    /// the two sides bold different halves and each reads the other its half.
    pub ssid_first_half_bold: bool,
    /// Whether we sent the DH-Commit (libotr's `auth.initiated`).
    pub initiated: bool,
}

impl fmt::Debug for AkeSuccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AkeSuccess")
            .field("version", &self.version)
            .field("their_keyid", &self.their_keyid)
            .field("fingerprint", &self.their_long_term.fingerprint())
            .field("initiated", &self.initiated)
            .finish_non_exhaustive()
    }
}

#[cfg_attr(feature = "fuzzing", derive(Clone))]
struct AwaitingDhKey {
    version: ProtocolVersion,
    r: Zeroizing<[u8; 16]>,
    our_dh: DhKeyPair,
    commit: DhCommit,
    sent_at: u64,
}

#[cfg_attr(feature = "fuzzing", derive(Clone))]
struct AwaitingRevealSig {
    version: ProtocolVersion,
    our_dh: DhKeyPair,
    their_encrypted_gx: Vec<u8>,
    their_hashed_gx: Vec<u8>,
    dh_key: DhKey,
}

#[cfg_attr(feature = "fuzzing", derive(Clone))]
struct AwaitingSig {
    version: ProtocolVersion,
    our_dh: DhKeyPair,
    their_public: modp::Int,
    /// The DH-Key as received, to recognise a retransmission of it.
    their_gy_bytes: Vec<u8>,
    keys: AkeKeys,
    reveal: RevealSignature,
}

/// The spec's authstate.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
enum AuthState {
    None,
    AwaitingDhKey(Box<AwaitingDhKey>),
    AwaitingRevealSig(Box<AwaitingRevealSig>),
    AwaitingSig(Box<AwaitingSig>),
}

impl AuthState {
    fn name(&self) -> &'static str {
        match self {
            AuthState::None => "AUTHSTATE_NONE",
            AuthState::AwaitingDhKey(_) => "AUTHSTATE_AWAITING_DHKEY",
            AuthState::AwaitingRevealSig(_) => "AUTHSTATE_AWAITING_REVEALSIG",
            AuthState::AwaitingSig(_) => "AUTHSTATE_AWAITING_SIG",
        }
    }
}

/// What to send in answer to a DH-Commit.
#[derive(Debug)]
pub enum CommitReply {
    DhKey(DhKey),
    /// Our own commit won the collision: send it again.
    DhCommit(DhCommit),
}

/// One side's AKE. Each message is handled by the current state consuming itself and
/// returning the next one (rustls's handshake states); on an error the state comes back
/// unchanged, as the spec's "ignore the message" asks.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub struct Ake {
    state: AuthState,
}

impl Default for Ake {
    fn default() -> Self {
        Ake::new()
    }
}

impl fmt::Debug for Ake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.state.name())
    }
}

/// MPI(value): 4-byte length and the minimal big-endian magnitude.
fn mpi(value: &modp::Int) -> Vec<u8> {
    let mut w = Writer::new();
    w.mpi(&modp::to_mpi_bytes(value));
    w.into_vec()
}

/// DATA(bytes): what the AKE MACs cover (the length is authenticated too).
fn data_field(bytes: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.data(bytes);
    w.into_vec()
}

fn parse_group_element(bytes: &[u8]) -> Result<modp::Int, AkeError> {
    let value = modp::from_be_bytes(bytes).ok_or(AkeError::BadGroupElement)?;
    if !modp::is_valid_element(&value) {
        return Err(AkeError::BadGroupElement);
    }
    Ok(value)
}

/// X = pubkey, keyid, sig(M) with M = MAC_m1(our_dh, their_dh, pubkey, keyid), encrypted with
/// `enc_key` and MACed with `mac_key` (spec: "Reveal Signature Message" steps).
fn authenticator(
    rng: &mut dyn rand_core::CryptoRngCore,
    our_key: &DsaPrivateKey,
    our_dh: &modp::Int,
    their_dh: &modp::Int,
    m1: &[u8; 32],
    enc_key: &[u8; 16],
    m2: &[u8; 32],
) -> (Vec<u8>, [u8; 20]) {
    let pubkey = our_key.public().encode();
    let mut signed = Writer::new();
    signed.bytes(&mpi(our_dh));
    signed.bytes(&mpi(their_dh));
    signed.bytes(&pubkey);
    signed.int(AKE_KEYID);
    let m = mac::hmac_sha256(m1, signed.as_slice());
    let sig = our_key.sign(rng, &m);
    let mut x = Writer::new();
    x.bytes(&pubkey);
    x.int(AKE_KEYID);
    x.bytes(&sig);
    let mut encrypted = x.into_vec();
    aes_ctr::aes128_ctr(enc_key, &[0; 8], &mut encrypted);
    let tag = mac::hmac_sha256_160(m2, &data_field(&encrypted));
    (encrypted, tag)
}

/// Checks the MAC over, decrypts and verifies the peer's authenticator; returns their
/// long-term key and DH key id.
fn verify_authenticator(
    encrypted: &[u8],
    tag: &[u8; 20],
    their_dh: &modp::Int,
    our_dh: &modp::Int,
    m1: &[u8; 32],
    enc_key: &[u8; 16],
    m2: &[u8; 32],
) -> Result<(DsaPublicKey, u32), AkeError> {
    if !mac::verify(&mac::hmac_sha256_160(m2, &data_field(encrypted)), tag) {
        return Err(AkeError::BadMac);
    }
    let mut x = encrypted.to_vec();
    aes_ctr::aes128_ctr(enc_key, &[0; 8], &mut x);
    let mut r = Reader::new(&x);
    let pubkey_start = r.position();
    let their_key = DsaPublicKey::decode(&mut r).map_err(|_| AkeError::Malformed)?;
    let pubkey_bytes = &x[pubkey_start..r.position()];
    let keyid = r.int().map_err(|_| AkeError::Malformed)?;
    let sig = r.rest();
    if keyid == 0 {
        return Err(AkeError::BadSignature);
    }
    let mut signed = Writer::new();
    signed.bytes(&mpi(their_dh));
    signed.bytes(&mpi(our_dh));
    signed.bytes(pubkey_bytes);
    signed.int(keyid);
    let m = mac::hmac_sha256(m1, signed.as_slice());
    if !their_key.verify(&m, sig) {
        return Err(AkeError::BadSignature);
    }
    Ok((their_key, keyid))
}

impl Ake {
    pub fn new() -> Self {
        Ake {
            state: AuthState::None,
        }
    }

    /// The spec name of the current authstate.
    pub fn state_name(&self) -> &'static str {
        self.state.name()
    }

    /// Whether an exchange is under way.
    pub fn in_progress(&self) -> bool {
        !matches!(self.state, AuthState::None)
    }

    /// The version of the exchange under way, if any.
    pub fn version(&self) -> Option<ProtocolVersion> {
        match &self.state {
            AuthState::None => None,
            AuthState::AwaitingDhKey(s) => Some(s.version),
            AuthState::AwaitingRevealSig(s) => Some(s.version),
            AuthState::AwaitingSig(s) => Some(s.version),
        }
    }

    /// Forgets any exchange under way (its secrets are wiped on drop).
    pub fn reset(&mut self) {
        self.state = AuthState::None;
    }

    /// Drops a DH-Commit nobody answered within [`COMMIT_LIFETIME_SECS`].
    pub fn expire(&mut self, now: u64) -> bool {
        if let AuthState::AwaitingDhKey(s) = &self.state {
            if now.saturating_sub(s.sent_at) > COMMIT_LIFETIME_SECS {
                self.reset();
                return true;
            }
        }
        false
    }

    /// Starts an exchange (on a query message or a whitespace tag): the DH-Commit to send.
    pub fn start(
        &mut self,
        rng: &mut dyn rand_core::CryptoRngCore,
        version: ProtocolVersion,
        now: u64,
    ) -> DhCommit {
        let mut r = Zeroizing::new([0u8; 16]);
        rng.fill_bytes(&mut r[..]);
        let our_dh = DhKeyPair::generate(rng);
        let gx = mpi(our_dh.public());
        let mut encrypted_gx = gx.clone();
        aes_ctr::aes128_ctr(&r, &[0; 8], &mut encrypted_gx);
        let commit = DhCommit {
            encrypted_gx,
            hashed_gx: mac::sha256(&gx).to_vec(),
        };
        self.state = AuthState::AwaitingDhKey(Box::new(AwaitingDhKey {
            version,
            r,
            our_dh,
            commit: commit.clone(),
            sent_at: now,
        }));
        commit
    }

    /// A DH-Commit arrived. `is_master` is true for the context that stands for all of the
    /// buddy's instances: there our own pending commit is only kept in case another instance
    /// answers it, so it always yields (libotr auth.c).
    pub fn handle_dh_commit(
        &mut self,
        rng: &mut dyn rand_core::CryptoRngCore,
        version: ProtocolVersion,
        commit: &DhCommit,
        is_master: bool,
    ) -> Result<CommitReply, AkeError> {
        if commit.hashed_gx.len() != 32 {
            return Err(AkeError::Malformed);
        }
        let (next, reply) = self.take().on_dh_commit(rng, version, commit, is_master);
        self.state = next;
        Ok(reply)
    }

    /// A DH-Key arrived: answer with our Reveal Signature.
    pub fn handle_dh_key(
        &mut self,
        rng: &mut dyn rand_core::CryptoRngCore,
        version: ProtocolVersion,
        dh_key: &DhKey,
        our_key: &DsaPrivateKey,
    ) -> Result<RevealSignature, AkeError> {
        let (next, result) = self.take().on_dh_key(rng, version, dh_key, our_key);
        self.state = next;
        result
    }

    /// A Reveal Signature arrived: verify Bob, answer with our Signature, done.
    pub fn handle_reveal_signature(
        &mut self,
        rng: &mut dyn rand_core::CryptoRngCore,
        version: ProtocolVersion,
        reveal: &RevealSignature,
        our_key: &DsaPrivateKey,
    ) -> Result<(Signature, AkeSuccess), AkeError> {
        let (next, result) = self
            .take()
            .on_reveal_signature(rng, version, reveal, our_key);
        self.state = next;
        result
    }

    /// A Signature arrived: verify Alice, done.
    pub fn handle_signature(
        &mut self,
        version: ProtocolVersion,
        signature: &Signature,
    ) -> Result<AkeSuccess, AkeError> {
        let (next, result) = self.take().on_signature(version, signature);
        self.state = next;
        result
    }

    fn take(&mut self) -> AuthState {
        std::mem::replace(&mut self.state, AuthState::None)
    }

    /// The commit we are waiting on, to copy into a new instance's AKE when one of the buddy's
    /// instances answers the master's commit (libotr `otrl_auth_copy_on_key`).
    pub fn copy_pending_commit(&self) -> Option<Ake> {
        let AuthState::AwaitingDhKey(s) = &self.state else {
            return None;
        };
        Some(Ake {
            state: AuthState::AwaitingDhKey(Box::new(AwaitingDhKey {
                version: s.version,
                r: s.r.clone(),
                our_dh: s.our_dh.clone_secret(),
                commit: s.commit.clone(),
                sent_at: s.sent_at,
            })),
        })
    }

    /// The hash in the commit we sent and wait on (AUTHSTATE_AWAITING_DHKEY).
    pub fn our_commit_hash(&self) -> Option<&[u8]> {
        match &self.state {
            AuthState::AwaitingDhKey(s) => Some(&s.commit.hashed_gx),
            _ => None,
        }
    }

    /// The hash in the peer's commit we answered (AUTHSTATE_AWAITING_REVEALSIG).
    pub fn their_commit_hash(&self) -> Option<&[u8]> {
        match &self.state {
            AuthState::AwaitingRevealSig(s) => Some(&s.their_hashed_gx),
            _ => None,
        }
    }

    /// Whether we started the exchange under way (we sent the DH-Commit).
    pub fn we_started(&self) -> bool {
        matches!(
            self.state,
            AuthState::AwaitingDhKey(_) | AuthState::AwaitingSig(_)
        )
    }

    /// Whether we are waiting for a DH-Key to our commit.
    pub fn awaiting_dh_key(&self) -> bool {
        matches!(self.state, AuthState::AwaitingDhKey(_))
    }
}

/// The transitions: each consumes the current state and returns the next, with what to
/// send or why the message was ignored (then the state returned is the one consumed).
impl AuthState {
    fn on_dh_commit(
        self,
        rng: &mut dyn rand_core::CryptoRngCore,
        version: ProtocolVersion,
        commit: &DhCommit,
        is_master: bool,
    ) -> (AuthState, CommitReply) {
        match self {
            AuthState::AwaitingDhKey(ours)
                if !is_master && ours.commit.hashed_gx.as_slice() > commit.hashed_gx.as_slice() =>
            {
                // Both sides sent a commit: the higher hash (as a big-endian number) wins.
                let reply = CommitReply::DhCommit(ours.commit.clone());
                (AuthState::AwaitingDhKey(ours), reply)
            }
            AuthState::AwaitingRevealSig(mut s) => {
                // Use the new commitment but resend the same DH-Key.
                s.version = version;
                s.their_encrypted_gx = commit.encrypted_gx.clone();
                s.their_hashed_gx = commit.hashed_gx.clone();
                let reply = CommitReply::DhKey(s.dh_key.clone());
                (AuthState::AwaitingRevealSig(s), reply)
            }
            // None, AwaitingSig, or our commit lost the collision: answer theirs.
            _ => answer_commit(rng, version, commit),
        }
    }

    fn on_dh_key(
        self,
        rng: &mut dyn rand_core::CryptoRngCore,
        version: ProtocolVersion,
        dh_key: &DhKey,
        our_key: &DsaPrivateKey,
    ) -> (AuthState, Result<RevealSignature, AkeError>) {
        match self {
            AuthState::AwaitingDhKey(s) => match s.reveal(rng, version, dh_key, our_key) {
                Ok((their_public, keys, reveal)) => {
                    let next = AuthState::AwaitingSig(Box::new(AwaitingSig {
                        version,
                        our_dh: s.our_dh,
                        their_public,
                        their_gy_bytes: dh_key.gy.clone(),
                        keys,
                        reveal: reveal.clone(),
                    }));
                    (next, Ok(reveal))
                }
                Err(e) => (AuthState::AwaitingDhKey(s), Err(e)),
            },
            // Our Reveal Signature was lost: the same DH-Key again asks for it again.
            AuthState::AwaitingSig(s) if s.their_gy_bytes == dh_key.gy && s.version == version => {
                let reveal = s.reveal.clone();
                (AuthState::AwaitingSig(s), Ok(reveal))
            }
            other => (other, Err(AkeError::WrongState)),
        }
    }

    fn on_reveal_signature(
        self,
        rng: &mut dyn rand_core::CryptoRngCore,
        version: ProtocolVersion,
        reveal: &RevealSignature,
        our_key: &DsaPrivateKey,
    ) -> (AuthState, Result<(Signature, AkeSuccess), AkeError>) {
        let AuthState::AwaitingRevealSig(s) = self else {
            return (self, Err(AkeError::WrongState));
        };
        match s.verify(rng, version, reveal, our_key) {
            Ok(verified) => {
                let their_public = verified.their_public;
                let ssid_first_half_bold = s.our_dh.public() < &their_public;
                let success = AkeSuccess {
                    version,
                    our_dh: s.our_dh,
                    our_keyid: AKE_KEYID,
                    their_public,
                    their_keyid: verified.their_keyid,
                    their_long_term: verified.their_long_term,
                    ssid: verified.ssid,
                    ssid_first_half_bold,
                    initiated: false,
                };
                (AuthState::None, Ok((verified.signature, success)))
            }
            Err(e) => (AuthState::AwaitingRevealSig(s), Err(e)),
        }
    }

    fn on_signature(
        self,
        version: ProtocolVersion,
        signature: &Signature,
    ) -> (AuthState, Result<AkeSuccess, AkeError>) {
        let AuthState::AwaitingSig(s) = self else {
            return (self, Err(AkeError::WrongState));
        };
        match s.verify(version, signature) {
            Ok((their_long_term, their_keyid)) => {
                let s = *s;
                let ssid_first_half_bold = s.our_dh.public() < &s.their_public;
                let success = AkeSuccess {
                    version,
                    ssid: s.keys.ssid,
                    our_dh: s.our_dh,
                    our_keyid: AKE_KEYID,
                    their_public: s.their_public,
                    their_keyid,
                    their_long_term,
                    ssid_first_half_bold,
                    initiated: true,
                };
                (AuthState::None, Ok(success))
            }
            Err(e) => (AuthState::AwaitingSig(s), Err(e)),
        }
    }
}

/// Answers a commit with a fresh DH key: AUTHSTATE_AWAITING_REVEALSIG.
fn answer_commit(
    rng: &mut dyn rand_core::CryptoRngCore,
    version: ProtocolVersion,
    commit: &DhCommit,
) -> (AuthState, CommitReply) {
    let our_dh = DhKeyPair::generate(rng);
    let dh_key = DhKey {
        gy: modp::to_mpi_bytes(our_dh.public()),
    };
    let next = AuthState::AwaitingRevealSig(Box::new(AwaitingRevealSig {
        version,
        our_dh,
        their_encrypted_gx: commit.encrypted_gx.clone(),
        their_hashed_gx: commit.hashed_gx.clone(),
        dh_key: dh_key.clone(),
    }));
    (next, CommitReply::DhKey(dh_key))
}

impl AwaitingDhKey {
    /// The Reveal Signature answering `dh_key`, with the peer's DH value and the AKE keys.
    fn reveal(
        &self,
        rng: &mut dyn rand_core::CryptoRngCore,
        version: ProtocolVersion,
        dh_key: &DhKey,
        our_key: &DsaPrivateKey,
    ) -> Result<(modp::Int, AkeKeys, RevealSignature), AkeError> {
        // libotr ignores a DH-Key of another version than its commit.
        if self.version != version {
            return Err(AkeError::VersionMismatch);
        }
        let their_public = parse_group_element(&dh_key.gy)?;
        if &their_public == self.our_dh.public() {
            return Err(AkeError::Reflected);
        }
        let secret = self.our_dh.shared_secret(&their_public);
        let keys = ake_keys(&secret);
        let (encrypted_signature, mac) = authenticator(
            rng,
            our_key,
            self.our_dh.public(),
            &their_public,
            &keys.m1,
            &keys.c,
            &keys.m2,
        );
        let reveal = RevealSignature {
            revealed_key: self.r.to_vec(),
            encrypted_signature,
            mac,
        };
        Ok((their_public, keys, reveal))
    }
}

/// What a verified Reveal Signature yields.
struct VerifiedReveal {
    their_public: modp::Int,
    their_keyid: u32,
    their_long_term: DsaPublicKey,
    ssid: [u8; 8],
    signature: Signature,
}

impl AwaitingRevealSig {
    /// Opens the commitment, verifies Bob and makes our Signature.
    fn verify(
        &self,
        rng: &mut dyn rand_core::CryptoRngCore,
        version: ProtocolVersion,
        reveal: &RevealSignature,
        our_key: &DsaPrivateKey,
    ) -> Result<VerifiedReveal, AkeError> {
        // Stricter than libotr 4.1.0, as the 4.1.1 spec asks: no version mixing in one AKE.
        if self.version != version {
            return Err(AkeError::VersionMismatch);
        }
        let r: [u8; 16] = reveal
            .revealed_key
            .as_slice()
            .try_into()
            .map_err(|_| AkeError::Malformed)?;
        let r = Zeroizing::new(r);
        let mut gx_mpi = self.their_encrypted_gx.clone();
        aes_ctr::aes128_ctr(&r, &[0; 8], &mut gx_mpi);
        if mac::sha256(&gx_mpi).as_slice() != self.their_hashed_gx.as_slice() {
            return Err(AkeError::BadCommitment);
        }
        let mut gx_reader = Reader::new(&gx_mpi);
        let gx_bytes = gx_reader.mpi().map_err(|_| AkeError::Malformed)?;
        gx_reader.finish().map_err(|_| AkeError::Malformed)?;
        let their_public = parse_group_element(gx_bytes)?;
        if &their_public == self.our_dh.public() {
            return Err(AkeError::Reflected);
        }
        let secret = self.our_dh.shared_secret(&their_public);
        let keys = ake_keys(&secret);
        let (their_long_term, their_keyid) = verify_authenticator(
            &reveal.encrypted_signature,
            &reveal.mac,
            &their_public,
            self.our_dh.public(),
            &keys.m1,
            &keys.c,
            &keys.m2,
        )?;
        let (encrypted_signature, mac) = authenticator(
            rng,
            our_key,
            self.our_dh.public(),
            &their_public,
            &keys.m1_prime,
            &keys.c_prime,
            &keys.m2_prime,
        );
        Ok(VerifiedReveal {
            their_public,
            their_keyid,
            their_long_term,
            ssid: keys.ssid,
            signature: Signature {
                encrypted_signature,
                mac,
            },
        })
    }
}

impl AwaitingSig {
    /// Verifies Alice's Signature: her long-term key and DH key id.
    fn verify(
        &self,
        version: ProtocolVersion,
        signature: &Signature,
    ) -> Result<(DsaPublicKey, u32), AkeError> {
        if self.version != version {
            return Err(AkeError::VersionMismatch);
        }
        verify_authenticator(
            &signature.encrypted_signature,
            &signature.mac,
            &self.their_public,
            self.our_dh.public(),
            &self.keys.m1_prime,
            &self.keys.c_prime,
            &self.keys.m2_prime,
        )
    }
}
