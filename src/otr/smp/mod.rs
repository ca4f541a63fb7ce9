//! The Socialist Millionaires' Protocol (spec: "Socialist Millionaires' Protocol (SMP)"), as
//! libotr 4.1.1 runs it (sm.c for the mathematics, message.c for the state handling).
//!
//! [`Smp`] is the per-session state machine. The host (the session) calls [`Smp::start`] when
//! the user asks to authenticate, [`Smp::respond`] when the user answers an
//! [`SmpEvent::AskForSecret`]/[`SmpEvent::AskForAnswer`], [`Smp::abort`] on cancel,
//! [`Smp::handle`] for every SMP TLV received in MSGSTATE_ENCRYPTED, and [`Smp::reset`] when
//! the session leaves MSGSTATE_ENCRYPTED. Every TLV it returns goes into an otherwise empty
//! data message with the IGNORE_UNREADABLE flag, as libotr sends it.
//!
//! # Differences from the spec text, following libotr on the wire
//! - Receiving SMP1 leaves the state at SMPSTATE_EXPECT1 until the user supplies the secret
//!   (libotr's `nextExpected` only moves on when SMP2 is sent), so a second SMP1 in that window
//!   replaces the first. [`Smp::is_awaiting_secret`] tells the two apart.
//! - A TLV the current state does not expect yields [`SmpEvent::Error`]; pidgin-otr answers that
//!   event (and [`SmpEvent::Cheated`]) by aborting, so the outcome already carries the
//!   SMP_ABORT reply and the state is back at SMPSTATE_EXPECT1. The host must not abort again.
//! - A zero-length SMP1Q is an error, not cheating (message.c tests `tlv->len > 0`).
//! - Starting a new exchange overwrites whatever was running, as `otrl_sm_step1` does.
//!
//! # Constant time
//! Constant time (everything that touches a secret): drawing and storing the random exponents
//! (a2, a3, b2, b3, r2..r7) and the secrets x, y; every exponentiation with one of them as
//! exponent (`modp::pow_secret`/`pow_g_secret`: g1^a2, g2a^b2, g3^r4, g2^y, qab^a3, Rb^a3 …);
//! the exponent arithmetic mod q for the D values (`mul_mod_q`, `sub_mod_q`); the final
//! comparison Rab == Pa/Pb (`subtle::ConstantTimeEq`).
//!
//! Variable time (public values only): parsing and range checks of received MPIs; proof
//! verification (`modp::pow_public` with the public D and c values as exponents — g2 and g3
//! appear there only as bases, which `pow_public` handles with constant-time multiplications);
//! the SMP hash, whose inputs are values the verifier recomputes; and the divisions Pa/Pb,
//! Qa/Qb by the peer's public elements.

mod messages;
mod proofs;
#[cfg(test)]
mod tests;

use core::fmt;

use rand_core::CryptoRngCore;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::crypto::mac;
use crate::otr::crypto::modp::{self, Int};
use crate::otr::wire::tlv::{self, Tlv};

use messages::{Smp1, Smp2, Smp3, Smp4};
use proofs::{CoordsProof, CoordsWitness, EXPONENT_BITS, SECRET_BITS};

/// The version byte at the front of the hashed secret (spec: "Secret information").
const SMP_VERSION: u8 = 1;

/// The longest question [`Smp::start`] accepts, in bytes: an SMP1Q value (question, NUL, the
/// largest SMP1 payload) must fit a TLV's 16-bit length.
pub const MAX_QUESTION_LEN: usize = tlv::MAX_VALUE_LEN - 1 - messages::SMP1_MAX_PAYLOAD_LEN;

/// Which SMP TLV the state machine accepts next (spec: "Expected Message").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmpState {
    /// SMPSTATE_EXPECT1: idle, or an SMP1 arrived and the user has not answered yet.
    Expect1,
    /// SMPSTATE_EXPECT2: we sent SMP1.
    Expect2,
    /// SMPSTATE_EXPECT3: we sent SMP2.
    Expect3,
    /// SMPSTATE_EXPECT4: we sent SMP3.
    Expect4,
}

impl SmpState {
    /// The spec's name for the state.
    pub fn spec_name(self) -> &'static str {
        match self {
            SmpState::Expect1 => "SMPSTATE_EXPECT1",
            SmpState::Expect2 => "SMPSTATE_EXPECT2",
            SmpState::Expect3 => "SMPSTATE_EXPECT3",
            SmpState::Expect4 => "SMPSTATE_EXPECT4",
        }
    }
}

impl fmt::Display for SmpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec_name())
    }
}

/// What the host should tell the user (libotr's `OtrlSMPEvent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmpEvent {
    /// The peer started SMP with a shared secret; call [`Smp::respond`] with ours.
    AskForSecret,
    /// The peer started SMP with a question (untrusted peer text: escape before display).
    AskForAnswer {
        /// The question, decoded lossily as UTF-8.
        question: String,
    },
    /// We sent SMP3 and wait for the last message (libotr's progress 60%).
    InProgress,
    /// Both secrets matched.
    Success,
    /// The exchange was honest but the secrets differ.
    Failure,
    /// A received value was out of range, malformed, or a proof did not verify.
    Cheated,
    /// The peer sent SMP_ABORT.
    Aborted,
    /// A TLV arrived that the current state does not expect.
    Error,
}

/// What binds the secret to this conversation (spec: "Secret information").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmpContext {
    /// The fingerprint of our long-term key used in this session.
    pub our_fingerprint: Fingerprint,
    /// The fingerprint of the key the peer authenticated with in this session.
    pub their_fingerprint: Fingerprint,
    /// The secure session id of this session.
    pub ssid: [u8; 8],
}

/// The result of handling one TLV.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmpOutcome {
    /// A TLV to send back (in an empty data message flagged IGNORE_UNREADABLE).
    pub reply: Option<Tlv>,
    /// Something to show the user.
    pub event: Option<SmpEvent>,
    /// Whether our side started the exchange this outcome belongs to.
    pub we_initiated: bool,
    /// Whether that exchange used a question.
    pub question: bool,
    /// The trust libotr would now record for the peer's fingerprint: `Some(true)` → "smp",
    /// `Some(false)` → "" (not trusted), `None` → leave it alone. libotr decides after the
    /// final comparison on both sides, treating cheating as failure, except that the side
    /// that *answered a question* changes nothing: it only proved that it knows the answer
    /// (message.c around `set_smp_trust`).
    pub trust: Option<bool>,
}

/// Misuse of the SMP API by the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmpError {
    /// [`Smp::respond`] without a pending SMP1.
    NotAwaitingSecret,
    /// The question is longer than [`MAX_QUESTION_LEN`] bytes.
    QuestionTooLong,
    /// The question contains a NUL byte, which would end it early on the wire.
    QuestionContainsNul,
}

impl fmt::Display for SmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmpError::NotAwaitingSecret => "no authentication request is waiting for an answer",
            SmpError::QuestionTooLong => "the authentication question is too long",
            SmpError::QuestionContainsNul => "the authentication question contains a NUL byte",
        })
    }
}

impl std::error::Error for SmpError {}

/// A received message failed a range check, did not parse, or carried a bad proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cheat;

/// Alice's state after sending SMP1 (SMPSTATE_EXPECT2).
#[derive(Zeroize, ZeroizeOnDrop)]
#[cfg_attr(any(test, feature = "fuzzing"), derive(Clone))]
struct Initiator2 {
    x: Int,
    a2: Int,
    a3: Int,
    question: bool,
}

/// Bob's state after a valid SMP1, until the user supplies the secret. Public values only.
#[derive(Zeroize, ZeroizeOnDrop)]
#[cfg_attr(any(test, feature = "fuzzing"), derive(Clone))]
struct Pending {
    g2a: Int,
    g3a: Int,
    question: bool,
}

/// Bob's state after sending SMP2 (SMPSTATE_EXPECT3).
#[derive(Zeroize, ZeroizeOnDrop)]
#[cfg_attr(any(test, feature = "fuzzing"), derive(Clone))]
struct Responder3 {
    /// Alice's half of the g3 exchange, for checking her proof on Ra.
    g3a: Int,
    g2: Int,
    g3: Int,
    b3: Int,
    pb: Int,
    qb: Int,
    question: bool,
}

/// Alice's state after sending SMP3 (SMPSTATE_EXPECT4).
#[derive(Zeroize, ZeroizeOnDrop)]
#[cfg_attr(any(test, feature = "fuzzing"), derive(Clone))]
struct Initiator4 {
    /// Bob's half of the g3 exchange, for checking his proof on Rb.
    g3b: Int,
    pab: Int,
    qab: Int,
    a3: Int,
    question: bool,
}

/// The random exponents of SMP1.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Smp1Random {
    a2: Int,
    a3: Int,
    r2: Int,
    r3: Int,
}

/// The random exponents of SMP2.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Smp2Random {
    b2: Int,
    b3: Int,
    r2: Int,
    r3: Int,
    r4: Int,
    r5: Int,
    r6: Int,
}

/// The random exponents of SMP3.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Smp3Random {
    r4: Int,
    r5: Int,
    r6: Int,
    r7: Int,
}

fn draw(rng: &mut dyn CryptoRngCore) -> Int {
    *modp::random_exponent(rng, EXPONENT_BITS)
}

impl Smp1Random {
    fn draw(rng: &mut dyn CryptoRngCore) -> Self {
        Self {
            a2: draw(rng),
            a3: draw(rng),
            r2: draw(rng),
            r3: draw(rng),
        }
    }
}

impl Smp2Random {
    fn draw(rng: &mut dyn CryptoRngCore) -> Self {
        Self {
            b2: draw(rng),
            b3: draw(rng),
            r2: draw(rng),
            r3: draw(rng),
            r4: draw(rng),
            r5: draw(rng),
            r6: draw(rng),
        }
    }
}

impl Smp3Random {
    fn draw(rng: &mut dyn CryptoRngCore) -> Self {
        Self {
            r4: draw(rng),
            r5: draw(rng),
            r6: draw(rng),
            r7: draw(rng),
        }
    }
}

/// The secret actually compared: SHA-256(1 ‖ initiator fp ‖ responder fp ‖ ssid ‖ user secret)
/// (spec: "Secret information"; libotr message.c `init_respond_smp`).
fn combined_secret(
    initiator: &Fingerprint,
    responder: &Fingerprint,
    ssid: &[u8; 8],
    secret: &[u8],
) -> Zeroizing<Int> {
    let digest = Zeroizing::new(mac::sha256_parts(&[
        &[SMP_VERSION],
        &initiator.0,
        &responder.0,
        ssid,
        secret,
    ]));
    Zeroizing::new(proofs::int_from_digest(&digest))
}

fn require(ok: bool) -> Result<(), Cheat> {
    if ok {
        Ok(())
    } else {
        Err(Cheat)
    }
}

fn check_elements(values: &[&Int]) -> Result<(), Cheat> {
    require(values.iter().all(|v| modp::is_valid_element(v)))
}

fn check_exponents(values: &[&Int]) -> Result<(), Cheat> {
    require(values.iter().all(|v| modp::is_valid_exponent(v)))
}

/// `a / b mod p` for a public, range-checked `b`.
fn div_mod_p(a: &Int, b: &Int) -> Result<Int, Cheat> {
    let inv = modp::inv_mod_p(b).ok_or(Cheat)?;
    Ok(modp::mul_mod_p(a, &inv))
}

/// Constant-time equality of two group elements (the final Rab == Pa/Pb comparison).
fn ct_equal(a: &Int, b: &Int) -> bool {
    let a = Zeroizing::new(a.to_be_bytes());
    let b = Zeroizing::new(b.to_be_bytes());
    bool::from(a[..].ct_eq(&b[..]))
}

/// `g1^r * g2^s` with both exponents secret (Pb/Qb, Pa/Qa).
fn g1_g2_secret(r: &Int, g2: &Int, s: &Int) -> Zeroizing<Int> {
    let left = Zeroizing::new(modp::pow_g_secret(r, EXPONENT_BITS));
    let right = Zeroizing::new(modp::pow_secret(g2, s, SECRET_BITS));
    Zeroizing::new(modp::mul_mod_p(&left, &right))
}

/// Alice builds SMP1.
fn step1(x: &Int, rnd: &Smp1Random, question: bool) -> (Smp1, Box<Initiator2>) {
    let g2a = modp::pow_g_secret(&rnd.a2, EXPONENT_BITS);
    let (c2, d2) = proofs::prove_know_log(&rnd.a2, &rnd.r2, 1);
    let g3a = modp::pow_g_secret(&rnd.a3, EXPONENT_BITS);
    let (c3, d3) = proofs::prove_know_log(&rnd.a3, &rnd.r3, 2);
    let state = Box::new(Initiator2 {
        x: *x,
        a2: rnd.a2,
        a3: rnd.a3,
        question,
    });
    (
        Smp1 {
            g2a,
            c2,
            d2,
            g3a,
            c3,
            d3,
        },
        state,
    )
}

/// Bob checks SMP1 (libotr `otrl_sm_step2a`).
fn step2a(m: &Smp1, question: bool) -> Result<Pending, Cheat> {
    check_elements(&[&m.g2a, &m.g3a])?;
    check_exponents(&[&m.d2, &m.d3])?;
    require(proofs::check_know_log(&m.c2, &m.d2, &m.g2a, 1))?;
    require(proofs::check_know_log(&m.c3, &m.d3, &m.g3a, 2))?;
    Ok(Pending {
        g2a: m.g2a,
        g3a: m.g3a,
        question,
    })
}

/// Bob builds SMP2 once the user gave the secret `y` (libotr `otrl_sm_step2b`).
fn step2b(p: &Pending, y: &Int, rnd: &Smp2Random) -> (Smp2, Box<Responder3>) {
    let g2b = modp::pow_g_secret(&rnd.b2, EXPONENT_BITS);
    let (c2, d2) = proofs::prove_know_log(&rnd.b2, &rnd.r2, 3);
    let g3b = modp::pow_g_secret(&rnd.b3, EXPONENT_BITS);
    let (c3, d3) = proofs::prove_know_log(&rnd.b3, &rnd.r3, 4);

    let g2 = Zeroizing::new(modp::pow_secret(&p.g2a, &rnd.b2, EXPONENT_BITS));
    let g3 = Zeroizing::new(modp::pow_secret(&p.g3a, &rnd.b3, EXPONENT_BITS));
    let pb = modp::pow_secret(&g3, &rnd.r4, EXPONENT_BITS);
    let qb = *g1_g2_secret(&rnd.r4, &g2, y);
    let witness = CoordsWitness {
        r: &rnd.r4,
        secret: y,
        r5: &rnd.r5,
        r6: &rnd.r6,
    };
    let (cp, d5, d6) = proofs::prove_equal_coords(&g2, &g3, &witness, 5);

    let state = Box::new(Responder3 {
        g3a: p.g3a,
        g2: *g2,
        g3: *g3,
        b3: rnd.b3,
        pb,
        qb,
        question: p.question,
    });
    (
        Smp2 {
            g2b,
            c2,
            d2,
            g3b,
            c3,
            d3,
            pb,
            qb,
            cp,
            d5,
            d6,
        },
        state,
    )
}

/// Alice checks SMP2 and builds SMP3 (libotr `otrl_sm_step3`).
fn step3(s: &Initiator2, m: &Smp2, rnd: &Smp3Random) -> Result<(Smp3, Box<Initiator4>), Cheat> {
    check_elements(&[&m.g2b, &m.g3b, &m.pb, &m.qb])?;
    check_exponents(&[&m.d2, &m.d3, &m.d5, &m.d6])?;
    require(proofs::check_know_log(&m.c2, &m.d2, &m.g2b, 3))?;
    require(proofs::check_know_log(&m.c3, &m.d3, &m.g3b, 4))?;

    let g2 = Zeroizing::new(modp::pow_secret(&m.g2b, &s.a2, EXPONENT_BITS));
    let g3 = Zeroizing::new(modp::pow_secret(&m.g3b, &s.a3, EXPONENT_BITS));
    let theirs = CoordsProof {
        c: &m.cp,
        d5: &m.d5,
        d6: &m.d6,
        p: &m.pb,
        q: &m.qb,
    };
    require(proofs::check_equal_coords(&g2, &g3, &theirs, 5))?;

    let pa = modp::pow_secret(&g3, &rnd.r4, EXPONENT_BITS);
    let qa = *g1_g2_secret(&rnd.r4, &g2, &s.x);
    let witness = CoordsWitness {
        r: &rnd.r4,
        secret: &s.x,
        r5: &rnd.r5,
        r6: &rnd.r6,
    };
    let (cp, d5, d6) = proofs::prove_equal_coords(&g2, &g3, &witness, 6);

    let pab = div_mod_p(&pa, &m.pb)?;
    let qab = div_mod_p(&qa, &m.qb)?;
    let ra = modp::pow_secret(&qab, &s.a3, EXPONENT_BITS);
    let (cr, d7) = proofs::prove_equal_logs(&qab, &s.a3, &rnd.r7, 7);

    let state = Box::new(Initiator4 {
        g3b: m.g3b,
        pab,
        qab,
        a3: s.a3,
        question: s.question,
    });
    Ok((
        Smp3 {
            pa,
            qa,
            cp,
            d5,
            d6,
            ra,
            cr,
            d7,
        },
        state,
    ))
}

/// Bob checks SMP3, builds SMP4 and learns the result (libotr `otrl_sm_step4`).
fn step4(s: &Responder3, m: &Smp3, r7: &Int) -> Result<(Smp4, bool), Cheat> {
    check_elements(&[&m.pa, &m.qa, &m.ra])?;
    check_exponents(&[&m.d5, &m.d6, &m.d7])?;
    let theirs = CoordsProof {
        c: &m.cp,
        d5: &m.d5,
        d6: &m.d6,
        p: &m.pa,
        q: &m.qa,
    };
    require(proofs::check_equal_coords(&s.g2, &s.g3, &theirs, 6))?;

    let pab = Zeroizing::new(div_mod_p(&m.pa, &s.pb)?);
    let qab = Zeroizing::new(div_mod_p(&m.qa, &s.qb)?);
    require(proofs::check_equal_logs(
        &m.cr, &m.d7, &m.ra, &s.g3a, &qab, 7,
    ))?;

    let rb = modp::pow_secret(&qab, &s.b3, EXPONENT_BITS);
    let (cr, d7) = proofs::prove_equal_logs(&qab, &s.b3, r7, 8);
    let rab = Zeroizing::new(modp::pow_secret(&m.ra, &s.b3, EXPONENT_BITS));
    let equal = ct_equal(&rab, &pab);
    Ok((Smp4 { rb, cr, d7 }, equal))
}

/// Alice checks SMP4 and learns the result (libotr `otrl_sm_step5`).
fn step5(s: &Initiator4, m: &Smp4) -> Result<bool, Cheat> {
    check_elements(&[&m.rb])?;
    check_exponents(&[&m.d7])?;
    require(proofs::check_equal_logs(
        &m.cr, &m.d7, &m.rb, &s.g3b, &s.qab, 8,
    ))?;
    let rab = Zeroizing::new(modp::pow_secret(&m.rb, &s.a3, EXPONENT_BITS));
    Ok(ct_equal(&rab, &s.pab))
}

/// Where the exchange is, with the partial computations it needs. Dropping a boxed state
/// wipes it.
#[cfg_attr(any(test, feature = "fuzzing"), derive(Clone))]
enum Stage {
    Expect1,
    AwaitingSecret(Box<Pending>),
    Expect2(Box<Initiator2>),
    Expect3(Box<Responder3>),
    Expect4(Box<Initiator4>),
}

/// The SMP state machine of one session.
#[cfg_attr(any(test, feature = "fuzzing"), derive(Clone))]
pub struct Smp {
    stage: Stage,
}

impl fmt::Debug for Smp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The stages hold secrets; show only where we are.
        f.debug_struct("Smp")
            .field("state", &self.state().spec_name())
            .field("awaiting_secret", &self.is_awaiting_secret())
            .finish()
    }
}

impl Default for Smp {
    fn default() -> Self {
        Self::new()
    }
}

impl Smp {
    /// Idle, in SMPSTATE_EXPECT1.
    pub fn new() -> Self {
        Self {
            stage: Stage::Expect1,
        }
    }

    /// The spec state.
    pub fn state(&self) -> SmpState {
        match self.stage {
            Stage::Expect1 | Stage::AwaitingSecret(_) => SmpState::Expect1,
            Stage::Expect2(_) => SmpState::Expect2,
            Stage::Expect3(_) => SmpState::Expect3,
            Stage::Expect4(_) => SmpState::Expect4,
        }
    }

    /// Whether an exchange is under way, including a received SMP1 awaiting the user.
    pub fn is_in_progress(&self) -> bool {
        !matches!(self.stage, Stage::Expect1)
    }

    /// Whether the peer's SMP1 waits for [`Smp::respond`].
    pub fn is_awaiting_secret(&self) -> bool {
        matches!(self.stage, Stage::AwaitingSecret(_))
    }

    /// Forgets (and wipes) any exchange without telling the peer: for when the session
    /// leaves MSGSTATE_ENCRYPTED (spec: "SMP must abandon its state").
    pub fn reset(&mut self) {
        self.stage = Stage::Expect1;
    }

    /// Starts an exchange as the initiator, replacing any running one, and returns the SMP1
    /// (or, with a question, SMP1Q) TLV to send. On error nothing changes.
    pub fn start(
        &mut self,
        rng: &mut dyn CryptoRngCore,
        ctx: &SmpContext,
        secret: &[u8],
        question: Option<&str>,
    ) -> Result<Tlv, SmpError> {
        if let Some(q) = question {
            if q.len() > MAX_QUESTION_LEN {
                return Err(SmpError::QuestionTooLong);
            }
            if q.as_bytes().contains(&0) {
                return Err(SmpError::QuestionContainsNul);
            }
        }
        let x = combined_secret(
            &ctx.our_fingerprint,
            &ctx.their_fingerprint,
            &ctx.ssid,
            secret,
        );
        let rnd = Smp1Random::draw(rng);
        let (msg, state) = step1(&x, &rnd, question.is_some());
        let payload = msg.encode();
        let tlv = match question {
            None => Tlv {
                kind: tlv::SMP1,
                value: payload,
            },
            Some(q) => {
                let mut value = Vec::with_capacity(q.len() + 1 + payload.len());
                value.extend_from_slice(q.as_bytes());
                value.push(0);
                value.extend_from_slice(&payload);
                Tlv {
                    kind: tlv::SMP1Q,
                    value,
                }
            }
        };
        if tlv.value.len() > tlv::MAX_VALUE_LEN {
            // Unreachable given MAX_QUESTION_LEN; kept so the TLV is always encodable.
            return Err(SmpError::QuestionTooLong);
        }
        self.stage = Stage::Expect2(state);
        Ok(tlv)
    }

    /// Answers the pending SMP1 with our secret and returns the SMP2 TLV to send.
    pub fn respond(
        &mut self,
        rng: &mut dyn CryptoRngCore,
        ctx: &SmpContext,
        secret: &[u8],
    ) -> Result<Tlv, SmpError> {
        let Stage::AwaitingSecret(pending) = &self.stage else {
            return Err(SmpError::NotAwaitingSecret);
        };
        // The peer initiated, so its fingerprint comes first.
        let y = combined_secret(
            &ctx.their_fingerprint,
            &ctx.our_fingerprint,
            &ctx.ssid,
            secret,
        );
        let rnd = Smp2Random::draw(rng);
        let (msg, state) = step2b(pending, &y, &rnd);
        self.stage = Stage::Expect3(state);
        Ok(Tlv {
            kind: tlv::SMP2,
            value: msg.encode(),
        })
    }

    /// Cancels the exchange and returns the SMP_ABORT TLV to send (libotr sends it whatever
    /// the state).
    pub fn abort(&mut self) -> Tlv {
        self.reset();
        Tlv::empty(tlv::SMP_ABORT)
    }

    /// Processes one received TLV. Non-SMP TLVs are ignored (empty outcome).
    pub fn handle(&mut self, rng: &mut dyn CryptoRngCore, tlv: &Tlv) -> SmpOutcome {
        match tlv.kind {
            tlv::SMP_ABORT => {
                let (we_initiated, question) = self.role();
                self.reset();
                SmpOutcome {
                    event: Some(SmpEvent::Aborted),
                    we_initiated,
                    question,
                    ..SmpOutcome::default()
                }
            }
            tlv::SMP1 | tlv::SMP1Q => self.on_smp1(tlv),
            tlv::SMP2 => self.on_smp2(rng, &tlv.value),
            tlv::SMP3 => self.on_smp3(rng, &tlv.value),
            tlv::SMP4 => self.on_smp4(&tlv.value),
            _ => SmpOutcome::default(),
        }
    }

    /// (we initiated, a question was used) for the exchange in progress.
    fn role(&self) -> (bool, bool) {
        match &self.stage {
            Stage::Expect1 => (false, false),
            Stage::AwaitingSecret(p) => (false, p.question),
            Stage::Expect2(s) => (true, s.question),
            Stage::Expect3(s) => (false, s.question),
            Stage::Expect4(s) => (true, s.question),
        }
    }

    /// A TLV the state does not expect: error, abort, back to EXPECT1.
    fn protocol_error(&mut self) -> SmpOutcome {
        let (we_initiated, question) = self.role();
        self.reset();
        SmpOutcome {
            reply: Some(Tlv::empty(tlv::SMP_ABORT)),
            event: Some(SmpEvent::Error),
            we_initiated,
            question,
            trust: None,
        }
    }

    /// A check failed: cheated, abort, back to EXPECT1.
    fn cheated(&mut self, role: (bool, bool), trust: Option<bool>) -> SmpOutcome {
        self.reset();
        SmpOutcome {
            reply: Some(Tlv::empty(tlv::SMP_ABORT)),
            event: Some(SmpEvent::Cheated),
            we_initiated: role.0,
            question: role.1,
            trust,
        }
    }

    fn on_smp1(&mut self, tlv: &Tlv) -> SmpOutcome {
        if self.state() != SmpState::Expect1 {
            return self.protocol_error();
        }
        let (question, payload) = if tlv.kind == tlv::SMP1Q {
            if tlv.value.is_empty() {
                return self.protocol_error();
            }
            let (q, p) = messages::split_question(&tlv.value);
            (Some(q), p)
        } else {
            (None, &tlv.value[..])
        };
        let role = (false, question.is_some());
        let checked = Smp1::decode(payload)
            .map_err(|_| Cheat)
            .and_then(|m| step2a(&m, question.is_some()));
        let Ok(pending) = checked else {
            return self.cheated(role, None);
        };
        self.stage = Stage::AwaitingSecret(Box::new(pending));
        let event = match question {
            Some(q) => SmpEvent::AskForAnswer {
                question: String::from_utf8_lossy(q).into_owned(),
            },
            None => SmpEvent::AskForSecret,
        };
        SmpOutcome {
            event: Some(event),
            we_initiated: false,
            question: role.1,
            ..SmpOutcome::default()
        }
    }

    fn on_smp2(&mut self, rng: &mut dyn CryptoRngCore, value: &[u8]) -> SmpOutcome {
        let Stage::Expect2(s) = &self.stage else {
            return self.protocol_error();
        };
        let role = (true, s.question);
        let rnd = Smp3Random::draw(rng);
        let result = Smp2::decode(value)
            .map_err(|_| Cheat)
            .and_then(|m| step3(s, &m, &rnd));
        let Ok((msg, next)) = result else {
            return self.cheated(role, None);
        };
        self.stage = Stage::Expect4(next);
        SmpOutcome {
            reply: Some(Tlv {
                kind: tlv::SMP3,
                value: msg.encode(),
            }),
            event: Some(SmpEvent::InProgress),
            we_initiated: role.0,
            question: role.1,
            trust: None,
        }
    }

    fn on_smp3(&mut self, rng: &mut dyn CryptoRngCore, value: &[u8]) -> SmpOutcome {
        let Stage::Expect3(s) = &self.stage else {
            return self.protocol_error();
        };
        let role = (false, s.question);
        // libotr records trust here whatever the result, unless we answered a question.
        let sets_trust = !s.question;
        let r7 = modp::random_exponent(rng, EXPONENT_BITS);
        let result = Smp3::decode(value)
            .map_err(|_| Cheat)
            .and_then(|m| step4(s, &m, &r7));
        let Ok((msg, equal)) = result else {
            return self.cheated(role, sets_trust.then_some(false));
        };
        self.reset();
        SmpOutcome {
            reply: Some(Tlv {
                kind: tlv::SMP4,
                value: msg.encode(),
            }),
            event: Some(if equal {
                SmpEvent::Success
            } else {
                SmpEvent::Failure
            }),
            we_initiated: role.0,
            question: role.1,
            trust: sets_trust.then_some(equal),
        }
    }

    fn on_smp4(&mut self, value: &[u8]) -> SmpOutcome {
        let Stage::Expect4(s) = &self.stage else {
            return self.protocol_error();
        };
        let role = (true, s.question);
        let result = Smp4::decode(value)
            .map_err(|_| Cheat)
            .and_then(|m| step5(s, &m));
        let Ok(equal) = result else {
            return self.cheated(role, Some(false));
        };
        self.reset();
        SmpOutcome {
            reply: None,
            event: Some(if equal {
                SmpEvent::Success
            } else {
                SmpEvent::Failure
            }),
            we_initiated: role.0,
            question: role.1,
            trust: Some(equal),
        }
    }
}
