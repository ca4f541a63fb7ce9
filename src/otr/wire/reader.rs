//! A checked cursor over untrusted bytes.
//!
//! Every read checks the bytes remaining first and returns [`DecodeError`] instead of
//! panicking. Length-prefixed fields (DATA, MPI) are returned as sub-slices of the input: a
//! peer-chosen length is compared with what is actually there and never used to allocate.

use super::DecodeError;

/// Cursor over a borrowed byte slice.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Start reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// The unread part of the input.
    fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Number of bytes not yet read.
    pub fn remaining_len(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Take exactly `n` bytes, or fail with `err` if fewer remain.
    fn take_or(&mut self, n: usize, err: DecodeError) -> Result<&'a [u8], DecodeError> {
        let rest = self.remaining();
        let out = rest.get(..n).ok_or(err)?;
        // `n <= rest.len()`, so this cannot overflow.
        self.pos += n;
        Ok(out)
    }

    /// Take exactly `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.take_or(n, DecodeError::Truncated)
    }

    /// A BYTE.
    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        let [b] = self.fixed::<1>()?;
        Ok(b)
    }

    /// A SHORT (2 bytes, big-endian).
    pub fn short(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.fixed::<2>()?))
    }

    /// An INT (4 bytes, big-endian).
    pub fn int(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.fixed::<4>()?))
    }

    /// A fixed-size field (CTR, MAC, ...).
    pub fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// DATA: a 4-byte big-endian length, then that many bytes (borrowed, not copied).
    pub fn data(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.int()?;
        // On a 16-bit target a u32 might not fit; then it certainly exceeds what remains.
        let len = usize::try_from(len).map_err(|_| DecodeError::LengthTooLarge)?;
        self.take_or(len, DecodeError::LengthTooLarge)
    }

    /// MPI: encoded like DATA. The magnitude bytes are returned exactly as received (leading
    /// zeros included) so a re-encoded message is byte-identical to what the peer sent;
    /// libgcrypt accepts non-minimal MPIs too. Range checks belong to the caller.
    pub fn mpi(&mut self) -> Result<&'a [u8], DecodeError> {
        self.data()
    }

    /// A sub-reader over a DATA field's contents.
    pub fn data_reader(&mut self) -> Result<Reader<'a>, DecodeError> {
        Ok(Reader::new(self.data()?))
    }

    /// Everything not yet read.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.remaining();
        self.pos = self.buf.len();
        out
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining_len() == 0
    }

    /// Succeeds only if the whole input was consumed.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_scalars() {
        let mut r = Reader::new(&[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
        assert_eq!(r.byte(), Ok(0x01));
        assert_eq!(r.short(), Ok(0x0203));
        assert_eq!(r.int(), Ok(0x0405_0607));
        assert!(r.is_empty());
        assert_eq!(r.position(), 7);
        assert_eq!(r.byte(), Err(DecodeError::Truncated));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn short_reads_fail_without_consuming() {
        let mut r = Reader::new(&[0xaa, 0xbb, 0xcc]);
        assert_eq!(r.int(), Err(DecodeError::Truncated));
        assert_eq!(r.position(), 0);
        assert_eq!(r.short(), Ok(0xaabb));
        assert_eq!(r.short(), Err(DecodeError::Truncated));
        assert_eq!(r.byte(), Ok(0xcc));
    }

    #[test]
    fn data_is_borrowed_and_bounded() {
        let buf = [0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 0];
        let mut r = Reader::new(&buf);
        let d = r.data().unwrap();
        assert_eq!(d, b"abc");
        // The slice points into the input: nothing was copied.
        assert_eq!(d.as_ptr(), buf[4..].as_ptr());
        assert_eq!(r.data(), Ok(&[][..]));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn data_length_past_end_is_rejected() {
        for len in [4u32, 5, 0x7fff_ffff, 0xffff_fffe, u32::MAX] {
            let mut buf = len.to_be_bytes().to_vec();
            buf.extend_from_slice(b"abc");
            let mut r = Reader::new(&buf);
            assert_eq!(r.data(), Err(DecodeError::LengthTooLarge), "len {len:#x}");
            let mut r = Reader::new(&buf);
            assert_eq!(r.mpi(), Err(DecodeError::LengthTooLarge), "len {len:#x}");
        }
        // A length field that is itself cut short.
        let mut r = Reader::new(&[0, 0, 1]);
        assert_eq!(r.data(), Err(DecodeError::Truncated));
    }

    #[test]
    fn mpi_keeps_leading_zeros() {
        let buf = [0, 0, 0, 3, 0, 0, 7];
        let mut r = Reader::new(&buf);
        assert_eq!(r.mpi(), Ok(&[0u8, 0, 7][..]));
    }

    #[test]
    fn fixed_rest_and_trailing_bytes() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5]);
        assert_eq!(r.fixed::<2>(), Ok([1, 2]));
        assert_eq!(r.fixed::<4>(), Err(DecodeError::Truncated));
        let r2 = r.clone();
        assert_eq!(r2.finish(), Err(DecodeError::TrailingBytes));
        assert_eq!(r.rest(), &[3, 4, 5]);
        assert_eq!(r.rest(), &[] as &[u8]);
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn data_reader_scopes_to_region() {
        let buf = [0, 0, 0, 2, 0xab, 0xcd, 0xef];
        let mut r = Reader::new(&buf);
        let mut sub = r.data_reader().unwrap();
        assert_eq!(sub.short(), Ok(0xabcd));
        assert_eq!(sub.byte(), Err(DecodeError::Truncated));
        assert_eq!(r.byte(), Ok(0xef));
    }
}
