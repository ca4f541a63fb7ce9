//! Two engines and a link between them, driven until quiet (the quinn-proto `Pair` idea):
//! a fake clock, a seeded RNG, and a link that can drop, duplicate or reorder messages.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::OnceLock;

use purple_otr::otr::crypto::dsa::DsaPrivateKey;
use purple_otr::otr::events::Event;
use purple_otr::otr::policy::Policy;
use purple_otr::otr::session::{Env, Outcome, Received, Session, SessionConfig};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Long-term keys are slow to make; each test binary makes each once.
pub fn test_key(which: usize) -> &'static DsaPrivateKey {
    static KEYS: OnceLock<Vec<DsaPrivateKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0x07e5_7ce7);
        (0..3).map(|_| DsaPrivateKey::generate(&mut rng)).collect()
    });
    &keys[which]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Alice,
    Bob,
}

impl Who {
    pub fn other(self) -> Who {
        match self {
            Who::Alice => Who::Bob,
            Who::Bob => Who::Alice,
        }
    }
}

/// What the link does with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Deliver,
    Drop,
    Duplicate,
}

pub struct Party {
    pub session: Session,
    pub key: &'static DsaPrivateKey,
    pub shown: Vec<Received>,
    pub events: Vec<Event>,
}

pub struct Pair {
    pub alice: Party,
    pub bob: Party,
    pub rng: ChaCha20Rng,
    pub now: u64,
    /// Messages in flight: (recipient, text).
    pub in_flight: VecDeque<(Who, String)>,
    /// Everything that crossed the link: (sender, text).
    pub wire: Vec<(Who, String)>,
}

pub fn config(name: &str, tag: u32, policy: Policy) -> SessionConfig {
    SessionConfig {
        account_name: name.to_string(),
        our_instance: tag,
        policy,
        max_message_size: 0,
    }
}

impl Pair {
    pub fn new(policy: Policy) -> Pair {
        Pair::with_configs(
            config("alice@localhost/a", 0x1111_1111, policy),
            config("bob@localhost/b", 0x2222_2222, policy),
        )
    }

    pub fn with_configs(alice: SessionConfig, bob: SessionConfig) -> Pair {
        Pair {
            alice: Party {
                session: Session::new(alice),
                key: test_key(0),
                shown: vec![],
                events: vec![],
            },
            bob: Party {
                session: Session::new(bob),
                key: test_key(1),
                shown: vec![],
                events: vec![],
            },
            rng: ChaCha20Rng::seed_from_u64(42),
            now: 1_000,
            in_flight: VecDeque::new(),
            wire: Vec::new(),
        }
    }

    pub fn party(&mut self, who: Who) -> &mut Party {
        match who {
            Who::Alice => &mut self.alice,
            Who::Bob => &mut self.bob,
        }
    }

    /// Runs `f` on `who`'s session with a fresh Env, then queues what it sends.
    pub fn act(
        &mut self,
        who: Who,
        f: impl FnOnce(&mut Session, &mut Env<'_>) -> Outcome,
    ) -> Outcome {
        let now = self.now;
        let party = match who {
            Who::Alice => &mut self.alice,
            Who::Bob => &mut self.bob,
        };
        let mut env = Env {
            now,
            rng: &mut self.rng,
            our_key: Some(party.key),
        };
        let outcome = f(&mut party.session, &mut env);
        party.events.extend(outcome.events.iter().cloned());
        if let Some(d) = &outcome.display {
            party.shown.push(d.clone());
        }
        for m in &outcome.to_send {
            self.wire.push((who, m.clone()));
            self.in_flight.push_back((who.other(), m.clone()));
        }
        outcome
    }

    pub fn send(&mut self, who: Who, text: &str) -> Outcome {
        self.act(who, |s, env| s.send(env, text))
    }

    pub fn start(&mut self, who: Who) -> Outcome {
        self.act(who, |s, env| s.start(env))
    }

    /// Delivers one in-flight message to its recipient.
    pub fn deliver_one(&mut self) -> Option<Outcome> {
        let (to, text) = self.in_flight.pop_front()?;
        Some(self.act(to, |s, env| s.receive(env, &text)))
    }

    /// Delivers until nothing is in flight; `fate` decides each message's fate by its index.
    pub fn run_with(&mut self, mut fate: impl FnMut(usize, Who, &str) -> Fate) -> usize {
        let mut n = 0;
        while let Some((to, text)) = self.in_flight.pop_front() {
            assert!(n < 100_000, "the conversation does not settle");
            match fate(n, to, &text) {
                Fate::Deliver => {
                    self.act(to, |s, env| s.receive(env, &text));
                }
                Fate::Drop => {}
                Fate::Duplicate => {
                    self.act(to, |s, env| s.receive(env, &text));
                    self.act(to, |s, env| s.receive(env, &text));
                }
            }
            n += 1;
        }
        n
    }

    pub fn run(&mut self) -> usize {
        self.run_with(|_, _, _| Fate::Deliver)
    }

    pub fn both_private(&self) -> bool {
        self.alice.session.status().is_private() && self.bob.session.status().is_private()
    }

    /// Starts OTR from `who` and runs until settled.
    pub fn establish(&mut self, who: Who) {
        self.start(who);
        self.run();
        assert!(
            self.both_private(),
            "AKE did not complete: alice {:?} bob {:?}",
            self.alice.events,
            self.bob.events
        );
    }

    pub fn shown_texts(&self, who: Who) -> Vec<String> {
        let p = match who {
            Who::Alice => &self.alice,
            Who::Bob => &self.bob,
        };
        p.shown.iter().map(|r| r.text.0.clone()).collect()
    }
}
