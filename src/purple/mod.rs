//! The libpurple adapter.
