//! The hybrid handshake (docs/modern-suite.md §5): three messages, deniable (no signatures),
//! X25519 3DH with identity and ephemeral keys + ML-KEM-768, bound to the OTR v3 session.
//!
//! ```text
//! initiator                                   responder
//! start()            ── MODERN_INIT ──▶       respond()
//! receive_response() ◀─ MODERN_RESPONSE ──    (ResponderAwaitingConfirm)
//!   → Ratchet        ── MODERN_CONFIRM ─▶     receive_confirm() → Ratchet
//!                                              (or receive_data(): a valid data message
//!                                               from the initiator confirms as well)
//! ```
//! Each state is consumed by its step; a failed step hands the state back with the error.

use zeroize::Zeroizing;

use super::identity::IdentityKey;
use super::prims::{self, KemDecapsulationKey, Secret32, X25519Secret};
use super::ratchet::{Ratchet, Received};
use super::wire::{Confirm, Data, DirectInit, Init, Instances, Response};
use super::{labels, ModernError, Rng, V3Binding, SUITE_V1};

/// What both handshake roles need to start.
#[derive(Debug, Clone)]
pub struct HandshakeParams {
    /// Our identity key.
    pub our_identity: IdentityKey,
    /// The peer's identity key, as announced in the v3 session (or pinned).
    pub their_identity: [u8; 32],
    /// The v3 session this one is bound to.
    pub binding: V3Binding,
    /// Instance tags as we send them (sender = ours, receiver = theirs).
    pub instances: Instances,
}

/// A step failed: the state, unchanged, and why.
#[derive(Debug)]
pub struct HandshakeFailure<S> {
    /// The state before the step (boxed: the states hold an ML-KEM key).
    pub state: Box<S>,
    /// Why it failed.
    pub error: ModernError,
}

fn fail<S, T>(state: S, error: ModernError) -> Result<T, HandshakeFailure<S>> {
    Err(HandshakeFailure {
        state: Box::new(state),
        error,
    })
}

/// Keys the handshake yields.
struct HandshakeKeys {
    transcript_hash: [u8; 32],
    root: Secret32,
    responder_chain: Secret32,
    responder_confirm: Secret32,
    initiator_confirm: Secret32,
}

/// What the handshake is bound to: the v3 session it grew out of (§5.1), or nothing but
/// the pins (a direct start, §15: no `K_v3`, no `ssid`).
#[derive(Debug, Clone)]
enum Binding {
    V3(V3Binding),
    Direct,
}

/// TH = SHA-256(TRANSCRIPT ‖ ssid ‖ fp_I ‖ fp_R ‖ INIT ‖ RESPONSE without its MAC), or for a
/// direct start SHA-256(DIRECT_TRANSCRIPT ‖ DIRECT_INIT ‖ RESPONSE without its MAC) (the
/// fingerprints are inside DIRECT_INIT).
fn transcript_hash(binding: &Binding, init: &[u8], response_unauthenticated: &[u8]) -> [u8; 32] {
    match binding {
        Binding::V3(b) => prims::sha256(&[
            labels::TRANSCRIPT,
            &b.ssid,
            &b.initiator_fingerprint,
            &b.responder_fingerprint,
            init,
            response_unauthenticated,
        ]),
        Binding::Direct => {
            prims::sha256(&[labels::DIRECT_TRANSCRIPT, init, response_unauthenticated])
        }
    }
}

/// PRK = HKDF-Extract(TH, DH1 ‖ DH2 ‖ DH3 ‖ SS ‖ K_v3) (without `K_v3` for a direct start),
/// then one Expand per key.
fn derive(
    th: [u8; 32],
    dh1: &[u8; 32],
    dh2: &[u8; 32],
    dh3: &[u8; 32],
    ss: &[u8; 32],
    binding: &Binding,
) -> HandshakeKeys {
    let mut ikm = Zeroizing::new([0u8; 160]);
    let mut parts: Vec<&[u8; 32]> = vec![dh1, dh2, dh3, ss];
    if let Binding::V3(b) = binding {
        parts.push(&b.v3_key);
    }
    for (i, part) in parts.iter().enumerate() {
        ikm[i * 32..i * 32 + 32].copy_from_slice(*part);
    }
    let ikm = &ikm[..parts.len() * 32];
    HandshakeKeys {
        transcript_hash: th,
        root: prims::hkdf32(&th, ikm, labels::ROOT),
        responder_chain: prims::hkdf32(&th, ikm, labels::RESPONDER_CHAIN),
        responder_confirm: prims::hkdf32(&th, ikm, labels::RESPONDER_CONFIRM),
        initiator_confirm: prims::hkdf32(&th, ikm, labels::INITIATOR_CONFIRM),
    }
}

fn reversed(i: Instances) -> Instances {
    Instances {
        sender: i.receiver,
        receiver: i.sender,
    }
}

/// The initiator after sending MODERN_INIT.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub struct InitiatorAwaitingResponse {
    our_identity: IdentityKey,
    their_identity: [u8; 32],
    binding: Binding,
    /// As sent; for a direct start the receiver may be 0 (any instance of the peer).
    instances: Instances,
    ephemeral: X25519Secret,
    kem: KemDecapsulationKey,
    init: Vec<u8>,
}

impl core::fmt::Debug for InitiatorAwaitingResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InitiatorAwaitingResponse")
            .field("instances", &self.instances)
            .finish_non_exhaustive()
    }
}

/// Start as initiator: draws the ephemeral X25519 key, then ML-KEM d and z.
pub fn start(rng: &mut impl Rng, params: HandshakeParams) -> (InitiatorAwaitingResponse, Init) {
    let ephemeral = X25519Secret::random(rng);
    let kem = KemDecapsulationKey::random(rng);
    let init = Init {
        instances: params.instances,
        suite: SUITE_V1,
        initiator_identity: *params.our_identity.public(),
        responder_identity: params.their_identity,
        ephemeral: ephemeral.public(),
        kem_ek: Box::new(*kem.encapsulation_key()),
    };
    let state = InitiatorAwaitingResponse {
        our_identity: params.our_identity,
        their_identity: params.their_identity,
        binding: Binding::V3(params.binding),
        instances: params.instances,
        ephemeral,
        kem,
        init: init.encode(),
    };
    (state, init)
}

/// What a direct start between pinned peers needs (docs/modern-suite.md §15): no v3 session,
/// the pins instead.
#[derive(Debug, Clone)]
pub struct DirectParams {
    /// Our identity key.
    pub our_identity: IdentityKey,
    /// The peer's pinned identity key.
    pub their_identity: [u8; 32],
    /// The initiator's v3 fingerprint (the key the initiator's identity was pinned with).
    pub initiator_fingerprint: [u8; 20],
    /// The responder's v3 fingerprint (the key the responder's identity was pinned with).
    pub responder_fingerprint: [u8; 20],
    /// Instance tags as we send them (sender = ours; receiver = theirs, or 0 for the
    /// initiator, who does not know the peer's instance yet).
    pub instances: Instances,
}

/// Start a direct handshake as initiator: the same draws as [`start`] (ephemeral X25519,
/// then ML-KEM d and z), MODERN_DIRECT_INIT instead of MODERN_INIT.
pub fn start_direct(
    rng: &mut impl Rng,
    params: DirectParams,
) -> (InitiatorAwaitingResponse, DirectInit) {
    let ephemeral = X25519Secret::random(rng);
    let kem = KemDecapsulationKey::random(rng);
    let init = DirectInit {
        instances: params.instances,
        suite: SUITE_V1,
        initiator_fingerprint: params.initiator_fingerprint,
        responder_fingerprint: params.responder_fingerprint,
        initiator_identity: *params.our_identity.public(),
        responder_identity: params.their_identity,
        ephemeral: ephemeral.public(),
        kem_ek: Box::new(*kem.encapsulation_key()),
    };
    let state = InitiatorAwaitingResponse {
        our_identity: params.our_identity,
        their_identity: params.their_identity,
        binding: Binding::Direct,
        instances: params.instances,
        ephemeral,
        kem,
        init: init.encode(),
    };
    (state, init)
}

impl InitiatorAwaitingResponse {
    /// Check the responder's MODERN_RESPONSE; on success the ratchet and MODERN_CONFIRM.
    pub fn receive_response(
        self,
        response: &Response,
    ) -> Result<(Ratchet, Confirm), HandshakeFailure<Self>> {
        if response.suite != SUITE_V1 {
            return fail(self, ModernError::UnsupportedSuite(response.suite));
        }
        // A direct start went to every instance of the peer (receiver 0): whichever answers
        // names itself, and the ratchet runs with that instance.
        let expected = reversed(self.instances);
        let tags_ok = response.instances.receiver == expected.receiver
            && (expected.sender == 0 || response.instances.sender == expected.sender);
        if !tags_ok {
            return fail(self, ModernError::UnexpectedMessage);
        }
        let instances = reversed(response.instances);
        let (Some(dh1), Some(dh2), Some(dh3)) = (
            self.our_identity
                .secret()
                .diffie_hellman(&response.ephemeral),
            self.ephemeral.diffie_hellman(&self.their_identity),
            self.ephemeral.diffie_hellman(&response.ephemeral),
        ) else {
            return fail(self, ModernError::BadKey);
        };
        let ss = self.kem.decapsulate(&response.kem_ct);
        let th = transcript_hash(
            &self.binding,
            &self.init,
            &response.encode_unauthenticated(),
        );
        let keys = derive(th, &dh1, &dh2, &dh3, &ss, &self.binding);
        let expected = prims::hmac_sha256(&keys.responder_confirm, &[&th]);
        if !prims::mac_eq(&expected, &response.mac) {
            return fail(self, ModernError::BadMac);
        }
        let confirm = Confirm {
            instances,
            suite: SUITE_V1,
            mac: prims::hmac_sha256(&keys.initiator_confirm, &[&th]),
        };
        match Ratchet::new_initiator(
            keys.transcript_hash,
            instances,
            &keys.root,
            keys.responder_chain,
            self.ephemeral.clone(),
            response.ephemeral,
        ) {
            Ok(r) => Ok((r, confirm)),
            Err(e) => fail(self, e),
        }
    }
}

/// The responder after sending MODERN_RESPONSE, until the initiator confirms.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub struct ResponderAwaitingConfirm {
    ratchet: Ratchet,
    initiator_confirm: Secret32,
}

impl core::fmt::Debug for ResponderAwaitingConfirm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResponderAwaitingConfirm")
            .field("ratchet", &self.ratchet)
            .finish_non_exhaustive()
    }
}

/// Answer a MODERN_INIT: draws the ephemeral X25519 key, then the ML-KEM message m.
pub fn respond(
    rng: &mut impl Rng,
    params: HandshakeParams,
    init: &Init,
) -> Result<(ResponderAwaitingConfirm, Response), ModernError> {
    if init.suite != SUITE_V1 {
        return Err(ModernError::UnsupportedSuite(init.suite));
    }
    if init.instances != reversed(params.instances) {
        return Err(ModernError::UnexpectedMessage);
    }
    if init.initiator_identity != params.their_identity
        || init.responder_identity != *params.our_identity.public()
    {
        return Err(ModernError::UnexpectedIdentity);
    }
    answer(
        rng,
        &params.our_identity,
        &init.initiator_identity,
        &init.ephemeral,
        &init.kem_ek,
        &init.encode(),
        &Binding::V3(params.binding),
        params.instances,
    )
}

/// Answer a MODERN_DIRECT_INIT (docs/modern-suite.md §15): the same draws and messages as
/// [`respond`], bound to the pins instead of a v3 session. The caller found the pin
/// (`params.their_identity` for `init.initiator_fingerprint`) and checked that
/// `init.responder_fingerprint` is our own v3 fingerprint; this checks the rest.
pub fn respond_direct(
    rng: &mut impl Rng,
    params: DirectParams,
    init: &DirectInit,
) -> Result<(ResponderAwaitingConfirm, Response), ModernError> {
    if init.suite != SUITE_V1 {
        return Err(ModernError::UnsupportedSuite(init.suite));
    }
    let addressed =
        init.instances.receiver == 0 || init.instances.receiver == params.instances.sender;
    if init.instances.sender != params.instances.receiver || !addressed {
        return Err(ModernError::UnexpectedMessage);
    }
    if init.initiator_identity != params.their_identity
        || init.responder_identity != *params.our_identity.public()
        || init.initiator_fingerprint != params.initiator_fingerprint
        || init.responder_fingerprint != params.responder_fingerprint
    {
        return Err(ModernError::UnexpectedIdentity);
    }
    answer(
        rng,
        &params.our_identity,
        &init.initiator_identity,
        &init.ephemeral,
        &init.kem_ek,
        &init.encode(),
        &Binding::Direct,
        params.instances,
    )
}

/// The responder's work once the INIT was accepted: draws `e_R`, then `m`.
#[allow(clippy::too_many_arguments)]
fn answer(
    rng: &mut impl Rng,
    our_identity: &IdentityKey,
    initiator_identity: &[u8; 32],
    initiator_ephemeral: &[u8; 32],
    kem_ek: &[u8; prims::KEM_EK_LEN],
    init_bytes: &[u8],
    binding: &Binding,
    instances: Instances,
) -> Result<(ResponderAwaitingConfirm, Response), ModernError> {
    let ephemeral = X25519Secret::random(rng);
    let m = prims::draw32(rng);
    let (ct, ss) = prims::kem_encapsulate(kem_ek, &m).ok_or(ModernError::BadKey)?;
    let (Some(dh1), Some(dh2), Some(dh3)) = (
        ephemeral.diffie_hellman(initiator_identity),
        our_identity.secret().diffie_hellman(initiator_ephemeral),
        ephemeral.diffie_hellman(initiator_ephemeral),
    ) else {
        return Err(ModernError::BadKey);
    };
    let mut response = Response {
        instances,
        suite: SUITE_V1,
        ephemeral: ephemeral.public(),
        kem_ct: Box::new(ct),
        mac: [0; 32],
    };
    let th = transcript_hash(binding, init_bytes, &response.encode_unauthenticated());
    let keys = derive(th, &dh1, &dh2, &dh3, &ss, binding);
    response.mac = prims::hmac_sha256(&keys.responder_confirm, &[&th]);
    let ratchet = Ratchet::new_responder(th, instances, keys.root, keys.responder_chain, ephemeral);
    Ok((
        ResponderAwaitingConfirm {
            ratchet,
            initiator_confirm: keys.initiator_confirm,
        },
        response,
    ))
}

impl ResponderAwaitingConfirm {
    /// Check MODERN_CONFIRM; on success the ratchet (ready to send and receive).
    pub fn receive_confirm(self, confirm: &Confirm) -> Result<Ratchet, HandshakeFailure<Self>> {
        if confirm.suite != SUITE_V1 {
            return fail(self, ModernError::UnsupportedSuite(confirm.suite));
        }
        let expected =
            prims::hmac_sha256(&self.initiator_confirm, &[self.ratchet.transcript_hash()]);
        if !prims::mac_eq(&expected, &confirm.mac) {
            return fail(self, ModernError::BadMac);
        }
        Ok(self.ratchet)
    }

    /// A data message from the initiator that authenticates confirms too (the confirm was
    /// lost or overtaken).
    pub fn receive_data(
        mut self,
        rng: &mut impl Rng,
        data: &Data,
    ) -> Result<(Ratchet, Received), HandshakeFailure<Self>> {
        match self.ratchet.decrypt(rng, data) {
            Ok(r) => Ok((self.ratchet, r)),
            Err(e) => fail(self, e),
        }
    }

    /// The transcript hash (for tests and the session's record).
    pub fn transcript_hash(&self) -> &[u8; 32] {
        self.ratchet.transcript_hash()
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
