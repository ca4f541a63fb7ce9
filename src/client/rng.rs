//! The client's random number generator: the operating system's (seeded ChaCha20) in the
//! plugin; in fuzzing builds also the fuzz targets' repeating [`PoolRng`], which lets the
//! lifecycle target reuse remembered exponentiations (see `otr::fuzz::PoolRng`).

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore};

#[cfg(feature = "fuzzing")]
use crate::otr::fuzz::PoolRng;

/// One of the generators a [`super::conversations::Client`] may draw from.
pub enum ClientRng {
    ChaCha(Box<ChaCha20Rng>),
    #[cfg(feature = "fuzzing")]
    Pool(Box<PoolRng>),
}

impl From<ChaCha20Rng> for ClientRng {
    fn from(rng: ChaCha20Rng) -> Self {
        ClientRng::ChaCha(Box::new(rng))
    }
}

#[cfg(feature = "fuzzing")]
impl From<PoolRng> for ClientRng {
    fn from(rng: PoolRng) -> Self {
        ClientRng::Pool(Box::new(rng))
    }
}

impl RngCore for ClientRng {
    fn next_u32(&mut self) -> u32 {
        match self {
            ClientRng::ChaCha(r) => r.next_u32(),
            #[cfg(feature = "fuzzing")]
            ClientRng::Pool(r) => r.next_u32(),
        }
    }

    fn next_u64(&mut self) -> u64 {
        match self {
            ClientRng::ChaCha(r) => r.next_u64(),
            #[cfg(feature = "fuzzing")]
            ClientRng::Pool(r) => r.next_u64(),
        }
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        match self {
            ClientRng::ChaCha(r) => r.fill_bytes(dest),
            #[cfg(feature = "fuzzing")]
            ClientRng::Pool(r) => r.fill_bytes(dest),
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for ClientRng {}

/// Never shows the generator's state.
impl std::fmt::Debug for ClientRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientRng")
    }
}
