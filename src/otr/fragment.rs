//! Fragmentation of outgoing messages and bounded reassembly of incoming fragments.
