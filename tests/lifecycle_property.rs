//! The first rule under random lifecycles (issue 10): seeded random sequences of user, host
//! and peer events through two clients, with the oracle of `purple_otr::client::
//! lifecycle_check` after every step. A failure prints the seed and the step list, shrunk.
//!
//! Needs the `fuzzing` feature (the world and the test-only regression switch live behind
//! it): `cargo test --no-default-features --features fuzzing --test lifecycle_property`.
#![cfg(feature = "fuzzing")]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::time::Instant;

use purple_otr::client::conversations::Regression;
use purple_otr::client::lifecycle_check::{
    decode, encode, run, run_with, shrink, Config, Dir, PolicyChoice, Step, Strict, Violation,
};

/// `LIFECYCLE_SEQUENCES` and `LIFECYCLE_STEPS` override the counts (longer explorations).
fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sequences() -> u64 {
    knob("LIFECYCLE_SEQUENCES", 300)
}

/// `LIFECYCLE_STRICT=quit,unreadable`: explore with the stricter readings (see the end).
fn strict() -> Strict {
    let v = std::env::var("LIFECYCLE_STRICT").unwrap_or_default();
    Strict {
        quit_keeps_rule: v.contains("quit"),
        unreadable_is_lost: v.contains("unreadable"),
    }
}

fn steps() -> usize {
    knob("LIFECYCLE_STEPS", 40) as usize
}

/// The input of one seeded sequence: the same byte format the fuzz target decodes.
/// (SplitMix64: deterministic, and independent of the RNG crates' trait names.)
fn input(seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u8
    };
    (0..1 + 2 * steps()).map(|_| next()).collect()
}

/// The first seed within `sequences()` whose violation `wanted` accepts, shrunk (to a list
/// that still fails that way); with coverage figures on stderr.
fn search(
    regression: Regression,
    wanted: fn(&Violation) -> bool,
) -> Option<(u64, Config, Vec<Step>, Violation)> {
    let start = Instant::now();
    let (mut private, mut modern, mut typed) = (0, 0, 0);
    for seed in 0..sequences() {
        let (config, steps) = decode(&input(seed));
        let result = std::panic::catch_unwind(|| run_with(config, &steps, regression, strict()));
        let violation = match result {
            Ok(Ok(outcome)) => {
                private += u64::from(outcome.reached_private);
                modern += u64::from(outcome.reached_modern);
                typed += outcome.typed;
                continue;
            }
            Ok(Err(v)) => v,
            Err(panic) => Violation {
                step: usize::MAX,
                what: format!("panic: {panic:?}"),
            },
        };
        if !wanted(&violation) {
            eprintln!("seed {seed}: {violation} (not the one looked for)");
            continue;
        }
        eprintln!(
            "seed {seed} fails after {:.1?} ({seed} sequences passed)",
            start.elapsed()
        );
        let short = shrink(config, &steps, regression, strict(), wanted);
        let v = run_with(config, &short, regression, strict())
            .err()
            .unwrap_or(violation);
        return Some((seed, config, short, v));
    }
    eprintln!(
        "{} sequences x {} steps in {:.1?}: {private} reached a private \
         conversation, {modern} of them upgraded to the post-quantum suite, {typed} texts typed",
        sequences(),
        steps(),
        start.elapsed()
    );
    // A sequence that never gets private tests nothing of the first rule.
    assert!(
        private * 3 >= sequences(),
        "too few sequences get private ({private}/{}): the step table is off",
        sequences()
    );
    // Half the configurations turn the upgrade on; the modern suite must really be reached,
    // or its data messages would go untested by the oracle.
    assert!(
        modern * 8 >= sequences(),
        "too few sequences upgrade to the modern suite ({modern}/{})",
        sequences()
    );
    None
}

#[test]
fn random_lifecycles_keep_the_first_rule() {
    if let Some((seed, config, steps, v)) = search(Regression::None, |_| true) {
        panic!(
            "lifecycle oracle failed for seed {seed}: {v}\nconfig: {config:?}\n\
             shrunk steps ({}): {steps:#?}",
            steps.len()
        );
    }
}

/// The property test can fail: with the old sign-off behaviour put back, it finds a silent
/// downgrade within the same bounded run.
#[test]
fn the_old_sign_off_downgrade_is_found() {
    let found = search(Regression::InsecureSignOffDropsSession, |v| {
        v.what.starts_with("FIRST RULE")
    });
    let (seed, config, steps, v) = found.expect("the downgrade was not found");
    eprintln!("found (seed {seed}): {v}\nconfig: {config:?}\nshrunk: {steps:?}",);
    assert!(v.what.starts_with("FIRST RULE"), "{v}");
    assert!(steps.contains(&Step::BuddyOffline), "{steps:?}");
}

/// The same downgrade, written out: private, the buddy "signs off", alice types.
#[test]
fn the_oracle_sees_a_downgrade_written_by_hand() {
    let config = Config {
        alice_policy: PolicyChoice::Opportunistic,
        bob_policy: PolicyChoice::Opportunistic,
        alice_keyless: false,
        modern: false,
    };
    let steps = [
        Step::Start,
        Step::DeliverAll,
        Step::BuddyOffline,
        Step::Type,
    ];
    run(config, &steps, Regression::None).expect("today's code holds the message");
    let v = run(config, &steps, Regression::InsecureSignOffDropsSession)
        .expect_err("the old code sends it in the clear");
    assert!(v.what.starts_with("FIRST RULE"), "{v}");
    assert_eq!(v.step, 3);
    // And an explicit end makes plain text the user's choice.
    let ended = [
        Step::Start,
        Step::DeliverAll,
        Step::End,
        Step::Type,
        Step::Deliver(Dir::ToBob),
    ];
    run(config, &ended, Regression::None).expect("plain text after an explicit end is fine");
}

/// The same input gives the same run (stores are reused between worlds: nothing may leak).
#[test]
fn runs_are_reproducible() {
    let digests = |order: &mut dyn Iterator<Item = u64>| {
        let mut d: Vec<(u64, u64)> = order
            .map(|seed| {
                let (config, steps) = decode(&input(seed));
                (seed, run(config, &steps, Regression::None).unwrap().digest)
            })
            .collect();
        d.sort();
        d
    };
    assert_eq!(digests(&mut (0..12)), digests(&mut (0..12).rev()));
}

#[test]
fn the_byte_format_round_trips() {
    for seed in 0..50 {
        let (config, steps) = decode(&input(seed));
        assert_eq!(decode(&encode(config, &steps)), (config, steps.clone()));
    }
}

/// Hand-written lifecycles that reach the interesting states (seed inputs for the fuzz
/// target; each also runs here).
fn scenarios() -> Vec<(Config, Vec<Step>)> {
    use Step::*;
    let opp = Config {
        alice_policy: PolicyChoice::Opportunistic,
        bob_policy: PolicyChoice::Opportunistic,
        alice_keyless: false,
        modern: false,
    };
    let private = [Start, DeliverAll];
    let with = |config: Config, rest: &[Step]| {
        let mut steps = private.to_vec();
        steps.extend_from_slice(rest);
        (config, steps)
    };
    vec![
        with(
            opp,
            &[
                BuddyOffline,
                BobRestarts { new_key: false },
                Type,
                Type,
                BuddyOnline,
                DeliverAll,
            ],
        ),
        with(
            opp,
            &[
                BobRestarts { new_key: false },
                Type,
                DeliverAll,
                Type,
                DeliverAll,
            ],
        ),
        with(
            opp,
            &[
                BuddyOffline,
                BobRestarts { new_key: true },
                Type,
                BuddyOnline,
                DeliverAll,
                SendHeld,
                DeliverAll,
            ],
        ),
        with(
            opp,
            &[
                SmpStart {
                    right: true,
                    question: true,
                },
                DeliverAll,
                BobSmpAnswer { right: true },
                DeliverAll,
                OnlyVerified(true),
                Type,
                DeliverAll,
            ],
        ),
        (
            Config {
                alice_keyless: true,
                modern: false,
                ..opp
            },
            vec![
                Type, Start, DeliverAll, KeyReady, DeliverAll, Type, DeliverAll,
            ],
        ),
        (
            Config {
                alice_policy: PolicyChoice::Always,
                bob_policy: PolicyChoice::Opportunistic,
                alice_keyless: true,
                modern: false,
            },
            vec![
                Type, DeliverAll, KeyFailed, Type, KeyReady, DeliverAll, Type, DeliverAll,
            ],
        ),
        with(
            opp,
            &[ForgedFragment(0); 17]
                .iter()
                .chain(&[Type])
                .copied()
                .collect::<Vec<_>>(),
        ),
        with(
            opp,
            &[
                BobTypes,
                Deliver(Dir::ToAlice),
                ReplayRetagged(0),
                ReplayRetagged(1),
                Type,
            ],
        ),
        with(
            opp,
            &[SetPolicy(PolicyChoice::Never), Type, DeliverAll, Type],
        ),
        with(
            Config {
                alice_policy: PolicyChoice::Manual,
                ..opp
            },
            &[AccountOffline, Type, AccountOnline, Type, Start, DeliverAll],
        ),
        with(
            Config {
                alice_policy: PolicyChoice::Always,
                bob_policy: PolicyChoice::Always,
                alice_keyless: false,
                modern: false,
            },
            &[
                BobEnd,
                DeliverAll,
                Type,
                End,
                Type,
                TimePasses(400),
                AliceQuits,
                Type,
            ],
        ),
    ]
}

/// Typed texts bob must see in each scenario (paused and resumed: all; a new key sent to
/// by the user's leave; SMP then "only verified"; a key made late, or failing once).
/// Scenario 1 (bob crashes without going offline) loses its two: bob cannot read them
/// and, like libotr, says nothing back.
const MIN_DELIVERED: [usize; 11] = [2, 0, 1, 1, 2, 3, 0, 0, 1, 2, 0];

#[test]
fn the_scenarios_keep_the_first_rule() {
    for (n, (config, steps)) in scenarios().into_iter().enumerate() {
        match run(config, &steps, Regression::None) {
            Err(v) => panic!("{v}\nconfig: {config:?}\nsteps: {steps:?}"),
            Ok(o) => {
                eprintln!(
                    "scenario {n}: private {}, typed {}, delivered {}, reported {}, in clear {}, held {}",
                    o.reached_private, o.typed, o.delivered, o.reported, o.in_clear, o.held
                );
                // The world is not vacuous: each gets private, and what should arrive does.
                assert!(o.reached_private, "scenario {n}");
                assert!(o.delivered >= MIN_DELIVERED[n], "scenario {n}: {o:?}");
            }
        }
    }
}

/// The same lifecycles with both clients upgrading to the post-quantum suite once private:
/// the first rule holds, typed texts sent as modern data messages are accounted for, and the
/// upgrade really happens.
#[test]
fn the_scenarios_keep_the_first_rule_after_the_upgrade() {
    let mut upgraded = 0;
    for (n, (config, steps)) in scenarios().into_iter().enumerate() {
        let config = Config {
            modern: true,
            ..config
        };
        match run(config, &steps, Regression::None) {
            Err(v) => panic!("{v}\nconfig: {config:?}\nsteps: {steps:?}"),
            Ok(o) => {
                eprintln!(
                    "scenario {n} (modern): private {}, upgraded {}, typed {}, delivered {}, \
                     reported {}, in clear {}, held {}",
                    o.reached_private,
                    o.reached_modern,
                    o.typed,
                    o.delivered,
                    o.reported,
                    o.in_clear,
                    o.held
                );
                assert!(o.reached_private, "scenario {n}");
                assert!(o.delivered >= MIN_DELIVERED[n], "scenario {n}: {o:?}");
                upgraded += usize::from(o.reached_modern);
            }
        }
    }
    assert!(
        upgraded * 2 >= MIN_DELIVERED.len(),
        "only {upgraded} upgraded"
    );
}

/// A text sent as a modern data message (`?OTR:AAMz`) and lost on the wire is the network's
/// loss, not a silent drop by the plugin: the oracle's accounting knows the new suite's data
/// messages (without that, this run is reported as SILENTLY LOST). Strict about unreadable
/// messages, so the announcements bob read but did not show do not pad the budget.
#[test]
fn a_lost_modern_data_message_is_accounted_for() {
    use Step::*;
    let config = Config {
        modern: true,
        ..opportunistic()
    };
    let steps = [Start, DeliverAll, Type, Drop(Dir::ToBob), Type, DeliverAll];
    let strict = Strict {
        unreadable_is_lost: true,
        ..Strict::default()
    };
    let o = run_with(config, &steps, Regression::None, strict).unwrap_or_else(|v| panic!("{v}"));
    assert!(o.reached_modern, "{o:?}");
    assert_eq!((o.typed, o.delivered, o.in_clear), (2, 1, 0), "{o:?}");
}

/// `LIFECYCLE_SCENARIO=n` with `PURPLE_OTR_LIFECYCLE_TRACE=1`: one scenario, traced.
#[test]
#[ignore = "a debugging aid"]
fn trace_scenario() {
    let n = knob("LIFECYCLE_SCENARIO", 0) as usize;
    let (config, steps) = scenarios().swap_remove(n);
    eprintln!("{config:?}");
    eprintln!("{:?}", run(config, &steps, Regression::None));
}

/// Whether a step takes alice's side away for a while: a sign-off seen by either side, a
/// restart or quit, the window closing.
fn interrupts(s: &Step) -> bool {
    matches!(
        s,
        Step::BuddyOffline
            | Step::AccountOffline
            | Step::BobSeesAliceOffline
            | Step::BobRestarts { .. }
            | Step::AliceQuits
            | Step::WindowClose
    )
}

/// `LIFECYCLE_CORPUS=DIR`: runs every input of a fuzzing corpus through the oracle and counts
/// what they reach (docs/security.md quotes it for the short-sequence campaign).
#[test]
#[ignore = "a measuring aid: needs LIFECYCLE_CORPUS"]
fn corpus_reach() {
    let dir = std::env::var("LIFECYCLE_CORPUS").expect("LIFECYCLE_CORPUS=DIR");
    let (mut inputs, mut longest, mut private, mut modern) = (0, 0, 0, 0);
    let (mut interrupted, mut typed_after) = (0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let (config, steps) = decode(&data);
        inputs += 1;
        longest = longest.max(steps.len());
        let o = run(config, &steps, Regression::None).unwrap_or_else(|v| panic!("{v}"));
        if !o.reached_private {
            continue;
        }
        private += 1;
        modern += usize::from(o.reached_modern);
        // The shortest prefix that gets alice private (reaching it is monotone in the prefix).
        let (mut lo, mut hi) = (1, steps.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if run(config, &steps[..mid], Regression::None).is_ok_and(|o| o.reached_private) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if let Some(i) = steps[lo..].iter().position(interrupts) {
            interrupted += 1;
            typed_after += usize::from(steps[lo + i..].contains(&Step::Type));
        }
    }
    assert!(inputs > 0, "an empty corpus");
    println!(
        "inputs {inputs} (at most {longest} steps): private {private}, post-quantum {modern}, \
         interrupted after getting private {interrupted}, typed after that {typed_after}"
    );
}

#[test]
#[ignore = "rewrites fuzz/corpus/lifecycle"]
fn write_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/lifecycle");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut inputs: Vec<Vec<u8>> = scenarios()
        .iter()
        .map(|(config, steps)| encode(*config, steps))
        .collect();
    // A few random sequences that reach a private conversation.
    inputs.extend(
        (0..40)
            .map(input)
            .filter(|i| {
                let (config, steps) = decode(i);
                run(config, &steps, Regression::None).is_ok_and(|o| o.reached_private)
            })
            .take(6),
    );
    for (n, i) in inputs.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{n:02}")), i).unwrap();
    }
}

// ---- questions for the design: stricter readings that today's code does not meet --------

fn opportunistic() -> Config {
    Config {
        alice_policy: PolicyChoice::Opportunistic,
        bob_policy: PolicyChoice::Opportunistic,
        alice_keyless: false,
        modern: false,
    }
}

/// After a quit and a new start the engine has no memory that the conversation with bob was
/// private, so under opportunistic the first message goes out readable (whitespace-tagged),
/// as with pidgin-otr. The first rule's wording ("once a conversation has been private") is
/// stricter; keeping it would need the "was private" mark on disk.
#[test]
#[ignore = "design: quitting ends every private conversation (the buddy is told, as pidgin-otr does); a new client session starts under the policy alone (docs/security.md)"]
fn quitting_and_restarting_keeps_the_first_rule() {
    let steps = [Step::Start, Step::DeliverAll, Step::AliceQuits, Step::Type];
    let strict = Strict {
        quit_keeps_rule: true,
        ..Strict::default()
    };
    if let Err(v) = run_with(opportunistic(), &steps, Regression::None, strict) {
        panic!("{v}");
    }
}

/// Bob's client restarts without the server saying he went offline (a crash with a quick
/// reconnect, or a server that hides it): alice's next messages are encrypted with keys bob
/// no longer has. Bob is told he got something unreadable; alice is told nothing and the
/// messages are gone (libotr sends no error in this state either).
#[test]
#[ignore = "protocol limit: a peer that lost its keys without a presence change cannot be told apart from a stray message; it is told (unreadable), libotr sends no error there and neither do we (docs/security.md)"]
fn messages_to_a_peer_that_restarted_unseen_are_not_lost_silently() {
    let steps = [
        Step::Start,
        Step::DeliverAll,
        Step::BobRestarts { new_key: false },
        Step::Type,
        Step::DeliverAll,
    ];
    let strict = Strict {
        unreadable_is_lost: true,
        ..Strict::default()
    };
    if let Err(v) = run_with(opportunistic(), &steps, Regression::None, strict) {
        panic!("{v}");
    }
}

/// The same loss, caused by the server alone: it tells bob that alice went offline (it can
/// lie), bob's client pauses and wipes its keys, and alice's next message, encrypted to
/// those keys, is unreadable to bob and gone without a word to alice.
#[test]
fn a_false_offline_at_the_buddy_does_not_lose_messages_silently() {
    let config = Config {
        alice_policy: PolicyChoice::Always,
        ..opportunistic()
    };
    let steps = [
        Step::Type,
        Step::DeliverAll,
        Step::Type,
        Step::BobSeesAliceOffline,
        Step::DeliverAll,
    ];
    let strict = Strict {
        unreadable_is_lost: true,
        ..Strict::default()
    };
    if let Err(v) = run_with(config, &steps, Regression::None, strict) {
        panic!("{v}");
    }
}
