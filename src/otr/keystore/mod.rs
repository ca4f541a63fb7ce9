//! File formats of pidgin-otr/libotr key and trust files (parsing and writing; no file I/O).
