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
use super::wire::{Confirm, Data, Init, Instances, Response};
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

/// TH = SHA-256(TRANSCRIPT ‖ ssid ‖ fp_I ‖ fp_R ‖ INIT ‖ RESPONSE without its MAC).
fn transcript_hash(binding: &V3Binding, init: &[u8], response_unauthenticated: &[u8]) -> [u8; 32] {
    prims::sha256(&[
        labels::TRANSCRIPT,
        &binding.ssid,
        &binding.initiator_fingerprint,
        &binding.responder_fingerprint,
        init,
        response_unauthenticated,
    ])
}

/// PRK = HKDF-Extract(TH, DH1 ‖ DH2 ‖ DH3 ‖ SS ‖ K_v3), then one Expand per key.
fn derive(
    th: [u8; 32],
    dh1: &[u8; 32],
    dh2: &[u8; 32],
    dh3: &[u8; 32],
    ss: &[u8; 32],
    binding: &V3Binding,
) -> HandshakeKeys {
    let mut ikm = Zeroizing::new([0u8; 160]);
    for (i, part) in [dh1, dh2, dh3, ss, &*binding.v3_key].iter().enumerate() {
        ikm[i * 32..i * 32 + 32].copy_from_slice(*part);
    }
    HandshakeKeys {
        transcript_hash: th,
        root: prims::hkdf32(&th, &ikm[..], labels::ROOT),
        responder_chain: prims::hkdf32(&th, &ikm[..], labels::RESPONDER_CHAIN),
        responder_confirm: prims::hkdf32(&th, &ikm[..], labels::RESPONDER_CONFIRM),
        initiator_confirm: prims::hkdf32(&th, &ikm[..], labels::INITIATOR_CONFIRM),
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
    params: HandshakeParams,
    ephemeral: X25519Secret,
    kem: KemDecapsulationKey,
    init: Vec<u8>,
}

impl core::fmt::Debug for InitiatorAwaitingResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InitiatorAwaitingResponse")
            .field("instances", &self.params.instances)
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
        params,
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
        if response.instances != reversed(self.params.instances) {
            return fail(self, ModernError::UnexpectedMessage);
        }
        let p = &self.params;
        let (Some(dh1), Some(dh2), Some(dh3)) = (
            p.our_identity.secret().diffie_hellman(&response.ephemeral),
            self.ephemeral.diffie_hellman(&p.their_identity),
            self.ephemeral.diffie_hellman(&response.ephemeral),
        ) else {
            return fail(self, ModernError::BadKey);
        };
        let ss = self.kem.decapsulate(&response.kem_ct);
        let th = transcript_hash(&p.binding, &self.init, &response.encode_unauthenticated());
        let keys = derive(th, &dh1, &dh2, &dh3, &ss, &p.binding);
        let expected = prims::hmac_sha256(&keys.responder_confirm, &[&th]);
        if !prims::mac_eq(&expected, &response.mac) {
            return fail(self, ModernError::BadMac);
        }
        let confirm = Confirm {
            instances: p.instances,
            suite: SUITE_V1,
            mac: prims::hmac_sha256(&keys.initiator_confirm, &[&th]),
        };
        let instances = p.instances;
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
    let ephemeral = X25519Secret::random(rng);
    let m = prims::draw32(rng);
    let (ct, ss) = prims::kem_encapsulate(&init.kem_ek, &m).ok_or(ModernError::BadKey)?;
    let (Some(dh1), Some(dh2), Some(dh3)) = (
        ephemeral.diffie_hellman(&init.initiator_identity),
        params.our_identity.secret().diffie_hellman(&init.ephemeral),
        ephemeral.diffie_hellman(&init.ephemeral),
    ) else {
        return Err(ModernError::BadKey);
    };
    let mut response = Response {
        instances: params.instances,
        suite: SUITE_V1,
        ephemeral: ephemeral.public(),
        kem_ct: Box::new(ct),
        mac: [0; 32],
    };
    let th = transcript_hash(
        &params.binding,
        &init.encode(),
        &response.encode_unauthenticated(),
    );
    let keys = derive(th, &dh1, &dh2, &dh3, &ss, &params.binding);
    response.mac = prims::hmac_sha256(&keys.responder_confirm, &[&th]);
    let ratchet = Ratchet::new_responder(
        th,
        params.instances,
        keys.root,
        keys.responder_chain,
        ephemeral,
    );
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
