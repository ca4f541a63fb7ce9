//! Serialisation of the spec's data types into a growable buffer.

/// Appends BYTE/SHORT/INT/DATA/MPI fields, big-endian, as the spec's "Data types" define.
#[derive(Clone, Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// A BYTE.
    pub fn byte(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// A SHORT, big-endian.
    pub fn short(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// An INT, big-endian.
    pub fn int(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// DATA: 4-byte length, then the bytes.
    ///
    /// # Panics
    /// If `bytes` is 4 GiB or longer, which no OTR field can be: everything we serialise is
    /// built locally and bounded far below that (reassembly is capped at a few MiB).
    pub fn data(&mut self, bytes: &[u8]) -> &mut Self {
        let len = match u32::try_from(bytes.len()) {
            Ok(len) => len,
            Err(_) => panic!("OTR DATA field longer than 2^32-1 bytes"),
        };
        self.int(len);
        self.buf.extend_from_slice(bytes);
        self
    }

    /// MPI: written exactly like DATA. Callers pass the minimal magnitude
    /// (`modp::to_mpi_bytes`), or the bytes as received when re-encoding a parsed message.
    pub fn mpi(&mut self, magnitude: &[u8]) -> &mut Self {
        self.data(magnitude)
    }

    /// Raw bytes (fixed-size fields: CTR, MAC, signature halves).
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True if nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The buffer written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Take the buffer.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::super::reader::Reader;
    use super::*;

    #[test]
    fn writes_spec_encodings() {
        let mut w = Writer::new();
        w.byte(0x12)
            .short(0x0003)
            .int(0xdead_beef)
            .data(b"hi")
            .mpi(&[0x01, 0x00])
            .bytes(&[9, 9]);
        assert_eq!(
            w.as_slice(),
            &[
                0x12, 0x00, 0x03, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 2, b'h', b'i', 0, 0, 0, 2, 1, 0,
                9, 9
            ]
        );
        assert_eq!(w.len(), 21);
        assert!(!w.is_empty());
    }

    #[test]
    fn empty_data_is_just_a_zero_length() {
        let mut w = Writer::new();
        w.data(&[]);
        assert_eq!(w.into_vec(), vec![0, 0, 0, 0]);
    }

    #[test]
    fn reader_reads_what_writer_wrote() {
        let payload: Vec<u8> = (0..=255u8).collect();
        let mut w = Writer::with_capacity(300);
        w.short(0xfffe).data(&payload).int(u32::MAX).byte(0);
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.short(), Ok(0xfffe));
        assert_eq!(r.data(), Ok(&payload[..]));
        assert_eq!(r.int(), Ok(u32::MAX));
        assert_eq!(r.byte(), Ok(0));
        assert_eq!(r.finish(), Ok(()));
    }
}
