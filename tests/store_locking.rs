//! The store's lock, with the `flock(2)` the plugin gives it: a save waits for another
//! holder, and concurrent writers (threads, processes) lose nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use purple_otr::client::store::Store;
use purple_otr::otr::crypto::dsa::DsaPrivateKey;
use purple_otr::otr::crypto::fingerprint::Fingerprint;
use purple_otr::otr::keystore::instags::InstanceTags;
use purple_otr::otr::keystore::privkey::AccountKey;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const J: &str = "prpl-jabber";

/// The same call the plugin makes (src/purple), here so the test needs no libpurple.
fn flock(file: &File) -> io::Result<bool> {
    // SAFETY: flock only uses the descriptor number; `file` keeps it open for the call.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(false),
        _ => Err(e),
    }
}

fn temp_dir(label: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "otr-store-lock-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&path);
    fs::create_dir_all(&path).unwrap();
    path
}

fn fp(n: u32) -> Fingerprint {
    let mut b = [0u8; 20];
    b[..4].copy_from_slice(&n.to_be_bytes());
    b[19] = 0x5a;
    Fingerprint(b)
}

#[test]
fn a_save_waits_for_the_lock() {
    let dir = temp_dir("wait");
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(".otr.lock"))
        .unwrap();
    assert!(flock(&lock).unwrap());
    let path = dir.clone();
    let writer = std::thread::spawn(move || {
        let mut store = Store::open(&path, flock);
        store.record_fingerprint("me@x/", J, "b", &fp(1)).unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !dir.join("otr.fingerprints").exists(),
        "wrote without the lock"
    );
    drop(lock);
    writer.join().unwrap();
    assert!(dir.join("otr.fingerprints").exists());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn concurrent_stores_in_threads_lose_nothing() {
    const PER_THREAD: u32 = 25;
    let dir = temp_dir("threads");
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2u32)
        .map(|t| {
            let path = dir.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut store = Store::open(&path, flock);
                let mut rng = ChaCha20Rng::seed_from_u64(u64::from(t));
                let key = DsaPrivateKey::generate(&mut rng);
                barrier.wait();
                let account = format!("thread{t}@x/");
                store.add_key(AccountKey::new(&account, J, key)).unwrap();
                store.instance_tag(&account, J, &mut rng).1.unwrap();
                for i in 0..PER_THREAD {
                    let buddy = format!("buddy{i}@x");
                    store
                        .record_fingerprint(&account, J, &buddy, &fp(t * 1000 + i))
                        .unwrap();
                    if i % 5 == 0 {
                        store
                            .set_trust(&account, J, &buddy, &fp(t * 1000 + i), "smp")
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let store = Store::open(&dir, flock);
    assert!(store.problems().is_empty());
    assert_eq!(store.keys().len(), 2);
    assert_eq!(
        store.fingerprints().entries().count(),
        2 * PER_THREAD as usize
    );
    let trusted = store
        .fingerprints()
        .entries()
        .filter(|e| e.is_trusted())
        .count();
    assert_eq!(trusted, 2 * PER_THREAD.div_ceil(5) as usize);
    let tags = InstanceTags::parse(&fs::read(dir.join("otr.instance_tags")).unwrap());
    assert_eq!(tags.entries().len(), 2);
    let _ = fs::remove_dir_all(&dir);
}

const CHILD_DIR: &str = "PURPLE_OTR_STORE_TEST_CHILD_DIR";
const CHILD_ID: &str = "PURPLE_OTR_STORE_TEST_CHILD_ID";
const PER_CHILD: u32 = 20;

/// The body of the child processes of the test below; does nothing in a normal run.
#[test]
fn child_process_writer() {
    let (Ok(dir), Ok(id)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_ID)) else {
        return;
    };
    let id: u32 = id.parse().unwrap();
    let mut store = Store::open(Path::new(&dir), flock);
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(id) + 100);
    let account = format!("process{id}@x/");
    store.instance_tag(&account, J, &mut rng).1.unwrap();
    for i in 0..PER_CHILD {
        store
            .record_fingerprint(&account, J, "shared-buddy@x", &fp(id * 1000 + i))
            .unwrap();
    }
}

#[test]
fn concurrent_processes_lose_nothing() {
    let dir = temp_dir("processes");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3u32)
        .map(|id| {
            Command::new(&exe)
                .args(["child_process_writer", "--exact", "--test-threads=1", "-q"])
                .env(CHILD_DIR, &dir)
                .env(CHILD_ID, id.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let store = Store::open(&dir, flock);
    let seen = store
        .fingerprints()
        .entries()
        .filter(|e| e.username == "shared-buddy@x")
        .count();
    assert_eq!(seen, 3 * PER_CHILD as usize);
    let tags = InstanceTags::parse(&fs::read(dir.join("otr.instance_tags")).unwrap());
    assert_eq!(tags.entries().len(), 3);
    let _ = fs::remove_dir_all(&dir);
}
