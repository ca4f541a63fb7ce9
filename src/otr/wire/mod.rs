//! The wire format: binary message codec, the `?OTR` text envelope, TLVs.
