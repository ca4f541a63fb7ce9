//! libgcrypt S-expressions, as far as `otr.private_key` needs them: a reader for every atom
//! form libgcrypt reads, and the printer libotr writes the file with (`gcry_sexp_sprint` in
//! `GCRYSEXP_FMT_ADVANCED` mode).
//!
//! Atom forms read (as libgcrypt's `do_vsexp_sscan` does):
//! - tokens: a letter or one of `-./_:*+=`, then letters, digits and those characters;
//! - quoted strings `"..."` holding raw bytes (any, including newlines and bytes >= 0x80)
//!   and the escapes `\b \t \v \n \f \r \" \' \\`, `\ooo` (three octal digits, taken mod 256
//!   like libgcrypt), `\xHH`, and a backslash before CR, LF, CRLF or LFCR (line continuation);
//! - `#hex#` with whitespace allowed anywhere between the digits;
//! - `|base64|` (whitespace and missing padding accepted: libgcrypt rejects both, nobody
//!   writes them, and being lenient here loses nothing);
//! - verbatim `N:bytes`; a length before `"`, `#` or `|` is ignored, as libgcrypt ignores it.
//!
//! Display hints: libgcrypt does not attach `[...]` to the next atom; it only checks the
//! brackets pair up and reads the atoms inside them as ordinary atoms of the list. We do the
//! same, so a hint changes what libotr reads and what we read in the same way.
//!
//! Bounds, so a corrupt or hostile file cannot make us recurse or allocate without limit: the
//! input is at most [`MAX_INPUT_LEN`] bytes, lists nest at most [`MAX_DEPTH`] deep, a file has
//! at most [`MAX_NODES`] atoms and lists, and an atom is at most [`MAX_ATOM_LEN`] bytes
//! (libgcrypt's own limit). The reader is a loop with an explicit stack.
//!
//! Every atom is kept in a `Zeroizing` buffer: the file holds private exponents.

use core::fmt;

use zeroize::Zeroizing;

/// Largest input accepted. A libotr key entry is about 1.4 KB, so this is hundreds of keys.
pub const MAX_INPUT_LEN: usize = 1 << 20;
/// Deepest list nesting accepted (a key file nests five deep).
pub const MAX_DEPTH: usize = 32;
/// Most atoms plus lists in one input (a key entry has 23).
pub const MAX_NODES: usize = 1 << 16;
/// Longest atom, libgcrypt's limit (its lengths are 16-bit).
pub const MAX_ATOM_LEN: usize = 65_535;

/// Characters that may continue a token (libgcrypt's `tokenchars`); a token cannot start
/// with a digit, which begins a length prefix instead.
fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-./_:*+=".contains(&c)
}

/// libgcrypt's `whitespacep`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | 0x0b | 0x0c | b'\r' | b'\n')
}

/// One S-expression: an atom (a byte string) or a list.
#[derive(Clone)]
pub struct Sexp {
    /// Byte offset in the input it was read from (0 for values built in memory).
    offset: usize,
    node: Node,
}

#[derive(Clone)]
enum Node {
    Atom(Zeroizing<Vec<u8>>),
    List(Vec<Sexp>),
}

impl PartialEq for Sexp {
    /// Structural equality; where the values were read from does not matter.
    fn eq(&self, other: &Self) -> bool {
        match (&self.node, &other.node) {
            (Node::Atom(a), Node::Atom(b)) => a == b,
            (Node::List(a), Node::List(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Sexp {}

impl fmt::Debug for Sexp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Atoms may be private exponents: show only their size.
        match &self.node {
            Node::Atom(a) => write!(f, "<{} bytes>", a.len()),
            Node::List(items) => f.debug_list().entries(items).finish(),
        }
    }
}

impl Sexp {
    /// An atom holding a copy of `bytes`.
    pub fn atom(bytes: &[u8]) -> Sexp {
        Sexp {
            offset: 0,
            node: Node::Atom(Zeroizing::new(bytes.to_vec())),
        }
    }

    /// An atom taking ownership of a (secret) buffer.
    pub fn atom_owned(bytes: Zeroizing<Vec<u8>>) -> Sexp {
        Sexp {
            offset: 0,
            node: Node::Atom(bytes),
        }
    }

    /// A list of the given elements.
    pub fn list(items: Vec<Sexp>) -> Sexp {
        Sexp {
            offset: 0,
            node: Node::List(items),
        }
    }

    /// Where this value started in the parsed input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The bytes of an atom; `None` for a list.
    pub fn as_atom(&self) -> Option<&[u8]> {
        match &self.node {
            Node::Atom(a) => Some(a),
            Node::List(_) => None,
        }
    }

    /// The elements of a list; `None` for an atom.
    pub fn as_list(&self) -> Option<&[Sexp]> {
        match &self.node {
            Node::Atom(_) => None,
            Node::List(items) => Some(items),
        }
    }

    /// Element `n` of a list if it is an atom (libgcrypt's `gcry_sexp_nth_data`).
    pub fn nth_atom(&self, n: usize) -> Option<&[u8]> {
        self.as_list()?.get(n)?.as_atom()
    }

    /// The first list, in document order and starting with this one, whose first element is
    /// the atom `token` (libgcrypt's `gcry_sexp_find_token`, which libotr uses to pick
    /// `name`, `protocol`, `private-key`, `dsa`, `p`, ... out of the file).
    pub fn find_token(&self, token: &[u8]) -> Option<&Sexp> {
        let mut pending: Vec<&Sexp> = vec![self];
        while let Some(s) = pending.pop() {
            if let Node::List(items) = &s.node {
                if items.first().and_then(Sexp::as_atom) == Some(token) {
                    return Some(s);
                }
                // Reversed so the first child is examined next: document order.
                pending.extend(items.iter().rev());
            }
        }
        None
    }

    /// Prints the expression as `gcry_sexp_sprint(..., GCRYSEXP_FMT_ADVANCED, ...)` does,
    /// trailing newline included. The buffer is sized exactly first, so no partial copy of
    /// a secret is left behind by a reallocation.
    pub fn to_advanced(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.advanced_len()));
        self.write_advanced(&mut out);
        out
    }

    /// Length of [`Sexp::to_advanced`]'s output.
    pub fn advanced_len(&self) -> usize {
        let mut n = 0usize;
        self.emit_advanced(&mut |b| n += b.len());
        n
    }

    /// Appends [`Sexp::to_advanced`]'s output to `out`.
    pub fn write_advanced(&self, out: &mut Vec<u8>) {
        self.emit_advanced(&mut |b| out.extend_from_slice(b));
    }

    /// libgcrypt's printer walks a flat buffer of open/close/data codes, deciding each
    /// separator by the code that follows; we walk the same sequence. An opening parenthesis
    /// starts a new line indented by depth (except the outermost one); a closing one is
    /// followed by a newline and indentation unless an opening one or the end follows; an
    /// atom is followed by a space unless a closing parenthesis follows.
    fn emit_advanced(&self, emit: &mut dyn FnMut(&[u8])) {
        let events = self.events();
        let mut indent = 0usize;
        for (i, ev) in events.iter().enumerate() {
            let next = events.get(i + 1);
            match ev {
                Event::Open => {
                    if indent > 0 {
                        emit(b"\n");
                        emit_spaces(emit, indent);
                    }
                    emit(b"(");
                    indent += 1;
                }
                Event::Close => {
                    emit(b")");
                    indent = indent.saturating_sub(1);
                    if matches!(next, Some(Event::Close | Event::Atom(_))) {
                        emit(b"\n");
                        emit_spaces(emit, indent);
                    }
                }
                Event::Atom(a) => {
                    encode_atom(a, emit);
                    if !matches!(next, Some(Event::Close)) {
                        emit(b" ");
                    }
                }
            }
        }
        emit(b"\n");
    }

    /// The flat open/close/atom sequence of this expression.
    fn events(&self) -> Vec<Event<'_>> {
        let mut out = Vec::new();
        // Work items: a value to expand, or a pending close.
        let mut work: Vec<Option<&Sexp>> = vec![Some(self)];
        while let Some(item) = work.pop() {
            match item {
                None => out.push(Event::Close),
                Some(s) => match &s.node {
                    Node::Atom(a) => out.push(Event::Atom(a)),
                    Node::List(items) => {
                        out.push(Event::Open);
                        work.push(None);
                        work.extend(items.iter().rev().map(Some));
                    }
                },
            }
        }
        out
    }
}

enum Event<'a> {
    Open,
    Close,
    Atom(&'a [u8]),
}

fn emit_spaces(emit: &mut dyn FnMut(&[u8]), n: usize) {
    const SPACES: &[u8; 16] = b"                ";
    let mut left = n;
    while left > 0 {
        let k = left.min(SPACES.len());
        emit(&SPACES[..k]);
        left -= k;
    }
}

/// How libgcrypt prints an atom (its `suitable_encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Hex,
    Quoted,
    Token,
}

/// libgcrypt's choice: hex when the first byte has its top bit set (it might be a negative
/// number), when any byte is NUL, or when a byte is a control character without a named
/// escape or in 0x7f..=0xa0; otherwise a token when every byte is a token character and
/// the first is not a digit; otherwise a quoted string. The empty atom is `""`.
///
/// libgcrypt 1.10 treated a NUL after the first byte as printable (`"\x00"`), 1.11 made any
/// NUL binary; we follow 1.11. That only matters for a key number whose every byte is
/// printable, which does not happen in practice.
fn encoding_of(bytes: &[u8]) -> Encoding {
    let Some(&first) = bytes.first() else {
        return Encoding::Quoted;
    };
    if first & 0x80 != 0 {
        return Encoding::Hex;
    }
    let mut token = true;
    for &c in bytes {
        if c == 0 {
            return Encoding::Hex;
        }
        if (c < 0x20 || (0x7f..=0xa0).contains(&c)) && named_escape(c).is_none() {
            return Encoding::Hex;
        }
        if !is_token_char(c) {
            token = false;
        }
    }
    if token && !first.is_ascii_digit() {
        Encoding::Token
    } else {
        Encoding::Quoted
    }
}

/// The letter of a byte's backslash escape in libgcrypt's quoted strings.
fn named_escape(c: u8) -> Option<u8> {
    Some(match c {
        0x08 => b'b',
        b'\t' => b't',
        0x0b => b'v',
        b'\n' => b'n',
        0x0c => b'f',
        b'\r' => b'r',
        b'"' => b'"',
        b'\'' => b'\'',
        b'\\' => b'\\',
        _ => return None,
    })
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn encode_atom(bytes: &[u8], emit: &mut dyn FnMut(&[u8])) {
    match encoding_of(bytes) {
        Encoding::Token => emit(bytes),
        Encoding::Hex => {
            emit(b"#");
            for &b in bytes {
                let pair = [
                    HEX_UPPER[usize::from(b >> 4)],
                    HEX_UPPER[usize::from(b & 0x0f)],
                ];
                emit(&pair);
            }
            emit(b"#");
        }
        Encoding::Quoted => {
            emit(b"\"");
            for &b in bytes {
                if let Some(letter) = named_escape(b) {
                    emit(&[b'\\', letter]);
                } else if b < 0x20 || (0x7f..=0xa0).contains(&b) {
                    // Unreachable through `encoding_of` (such atoms print as hex), kept so
                    // the quoted form is right on its own.
                    emit(&[
                        b'\\',
                        b'x',
                        HEX_LOWER[usize::from(b >> 4)],
                        HEX_LOWER[usize::from(b & 0x0f)],
                    ]);
                } else {
                    emit(&[b]);
                }
            }
            emit(b"\"");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Why an input is not a well-formed S-expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SexpErrorKind {
    /// The input is larger than [`MAX_INPUT_LEN`].
    InputTooLarge,
    /// Lists nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// More than [`MAX_NODES`] atoms and lists.
    TooManyElements,
    /// An atom is longer than [`MAX_ATOM_LEN`].
    AtomTooLong,
    /// `)` without a matching `(`.
    UnmatchedClose,
    /// The input ended inside a list (the offset is its `(`).
    UnclosedList,
    /// The input ended inside a quoted string.
    UnterminatedString,
    /// A backslash escape libgcrypt does not know, or a short `\x`/octal escape.
    BadEscape,
    /// The input ended inside `#...#`.
    UnterminatedHex,
    /// A character other than a hex digit or whitespace inside `#...#`.
    BadHexChar,
    /// An odd number of hex digits.
    OddHexDigits,
    /// The input ended inside `|...|`.
    UnterminatedBase64,
    /// Invalid base64 inside `|...|`.
    BadBase64,
    /// A length prefix starting with `0`.
    LengthWithLeadingZero,
    /// A length prefix not followed by `:`, `"`, `#` or `|`.
    BadLengthSpec,
    /// `N:` with fewer than N bytes left.
    LengthBeyondEnd,
    /// A byte that cannot start anything here (including `{`, `&` and `\`).
    UnexpectedCharacter,
    /// `[` inside a display hint.
    NestedHint,
    /// `]` without `[`.
    UnmatchedHintClose,
    /// A parenthesis inside a display hint.
    ParenInHint,
    /// The input ended inside a display hint.
    UnclosedHint,
    /// Nothing but whitespace.
    Empty,
    /// Not exactly one list at the top level (an atom there, or a second expression).
    NotOneList,
}

impl fmt::Display for SexpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InputTooLarge => "file too large",
            Self::TooDeep => "lists nested too deeply",
            Self::TooManyElements => "too many elements",
            Self::AtomTooLong => "value longer than 65535 bytes",
            Self::UnmatchedClose => "')' without a matching '('",
            Self::UnclosedList => "'(' never closed",
            Self::UnterminatedString => "quoted string never closed",
            Self::BadEscape => "invalid backslash escape in a quoted string",
            Self::UnterminatedHex => "hex value (#...#) never closed",
            Self::BadHexChar => "invalid character in a hex value",
            Self::OddHexDigits => "odd number of digits in a hex value",
            Self::UnterminatedBase64 => "base64 value (|...|) never closed",
            Self::BadBase64 => "invalid base64 value",
            Self::LengthWithLeadingZero => "length prefix starting with 0",
            Self::BadLengthSpec => "length prefix not followed by ':'",
            Self::LengthBeyondEnd => "length prefix runs past the end of the file",
            Self::UnexpectedCharacter => "unexpected character",
            Self::NestedHint => "'[' inside a display hint",
            Self::UnmatchedHintClose => "']' without a matching '['",
            Self::ParenInHint => "parenthesis inside a display hint",
            Self::UnclosedHint => "display hint never closed",
            Self::Empty => "no expression",
            Self::NotOneList => "expected exactly one list",
        })
    }
}

/// A syntax error and the byte offset where it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SexpError {
    pub offset: usize,
    pub kind: SexpErrorKind,
}

impl fmt::Display for SexpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for SexpError {}

fn fail<T>(offset: usize, kind: SexpErrorKind) -> Result<T, SexpError> {
    Err(SexpError { offset, kind })
}

/// Reads one list (surrounding whitespace allowed, nothing else).
pub fn parse(input: &[u8]) -> Result<Sexp, SexpError> {
    if input.len() > MAX_INPUT_LEN {
        return fail(0, SexpErrorKind::InputTooLarge);
    }
    let mut parser = Parser {
        input,
        stack: Vec::new(),
        top: Vec::new(),
        nodes: 0,
    };
    let mut hint: Option<usize> = None;
    let mut i = 0;
    while let Some(&c) = input.get(i) {
        match c {
            _ if is_space(c) => i += 1,
            b'(' => {
                if hint.is_some() {
                    return fail(i, SexpErrorKind::ParenInHint);
                }
                if parser.stack.len() >= MAX_DEPTH {
                    return fail(i, SexpErrorKind::TooDeep);
                }
                parser.count_node(i)?;
                parser.stack.push((i, Vec::new()));
                i += 1;
            }
            b')' => {
                if hint.is_some() {
                    return fail(i, SexpErrorKind::ParenInHint);
                }
                let Some((start, items)) = parser.stack.pop() else {
                    return fail(i, SexpErrorKind::UnmatchedClose);
                };
                parser.push(Sexp {
                    offset: start,
                    node: Node::List(items),
                });
                i += 1;
            }
            b'[' => {
                if hint.is_some() {
                    return fail(i, SexpErrorKind::NestedHint);
                }
                hint = Some(i);
                i += 1;
            }
            b']' => {
                if hint.take().is_none() {
                    return fail(i, SexpErrorKind::UnmatchedHintClose);
                }
                i += 1;
            }
            _ => {
                let (atom, next) = parser.atom(i)?;
                parser.count_node(i)?;
                parser.push(Sexp {
                    offset: i,
                    node: Node::Atom(atom),
                });
                i = next;
            }
        }
    }
    if let Some(at) = hint {
        return fail(at, SexpErrorKind::UnclosedHint);
    }
    if let Some((at, _)) = parser.stack.last() {
        return fail(*at, SexpErrorKind::UnclosedList);
    }
    let mut top = parser.top.into_iter();
    match (top.next(), top.next()) {
        (None, _) => fail(input.len(), SexpErrorKind::Empty),
        (Some(first), None) if first.as_list().is_some() => Ok(first),
        (Some(first), None) => fail(first.offset, SexpErrorKind::NotOneList),
        (Some(_), Some(second)) => fail(second.offset, SexpErrorKind::NotOneList),
    }
}

struct Parser<'a> {
    input: &'a [u8],
    /// Open lists: where each started and what it holds so far.
    stack: Vec<(usize, Vec<Sexp>)>,
    /// Completed top-level values.
    top: Vec<Sexp>,
    nodes: usize,
}

impl Parser<'_> {
    fn count_node(&mut self, at: usize) -> Result<(), SexpError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return fail(at, SexpErrorKind::TooManyElements);
        }
        Ok(())
    }

    fn push(&mut self, value: Sexp) {
        match self.stack.last_mut() {
            Some((_, items)) => items.push(value),
            None => self.top.push(value),
        }
    }

    /// Reads the atom starting at `start`; returns it and the offset just past it.
    fn atom(&self, start: usize) -> Result<(Zeroizing<Vec<u8>>, usize), SexpError> {
        let input = self.input;
        let c = input.get(start).copied().unwrap_or(0);
        match c {
            b'"' => quoted(input, start),
            b'#' => hex(input, start),
            b'|' => base64(input, start),
            b'0' => fail(start, SexpErrorKind::LengthWithLeadingZero),
            b'1'..=b'9' => length_prefixed(input, start),
            _ if is_token_char(c) => {
                let len = input[start..]
                    .iter()
                    .position(|&b| !is_token_char(b))
                    .unwrap_or(input.len() - start);
                if len > MAX_ATOM_LEN {
                    return fail(start, SexpErrorKind::AtomTooLong);
                }
                let end = start + len;
                Ok((Zeroizing::new(input[start..end].to_vec()), end))
            }
            _ => fail(start, SexpErrorKind::UnexpectedCharacter),
        }
    }
}

/// A buffer that refuses to grow past [`MAX_ATOM_LEN`], allocated once.
struct AtomBuf {
    buf: Zeroizing<Vec<u8>>,
    start: usize,
}

impl AtomBuf {
    fn new(start: usize, size_hint: usize) -> AtomBuf {
        AtomBuf {
            buf: Zeroizing::new(Vec::with_capacity(size_hint.min(MAX_ATOM_LEN))),
            start,
        }
    }

    fn push(&mut self, b: u8) -> Result<(), SexpError> {
        if self.buf.len() >= MAX_ATOM_LEN {
            return fail(self.start, SexpErrorKind::AtomTooLong);
        }
        self.buf.push(b);
        Ok(())
    }
}

fn octal(c: u8) -> Option<u8> {
    matches!(c, b'0'..=b'7').then(|| c - b'0')
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `"..."` starting at `start` (the quote).
fn quoted(input: &[u8], start: usize) -> Result<(Zeroizing<Vec<u8>>, usize), SexpError> {
    // Find the closing quote first (a backslash always takes the next byte with it), so the
    // buffer is sized by this string rather than by the rest of the file.
    let mut end = None;
    let mut k = start + 1;
    while let Some(&c) = input.get(k) {
        match c {
            b'\\' => k += 2,
            b'"' => {
                end = Some(k);
                break;
            }
            _ => k += 1,
        }
    }
    let Some(end) = end else {
        return fail(start, SexpErrorKind::UnterminatedString);
    };
    let body = &input[..end];
    let mut out = AtomBuf::new(start, end - start);
    let mut j = start + 1;
    while let Some(&c) = body.get(j) {
        if c != b'\\' {
            out.push(c)?;
            j += 1;
            continue;
        }
        let at = j + 1;
        let e = body.get(at).copied().unwrap_or(b'"');
        match e {
            b'b' | b't' | b'v' | b'n' | b'f' | b'r' | b'"' | b'\'' | b'\\' => {
                let byte = match e {
                    b'b' => 0x08,
                    b't' => b'\t',
                    b'v' => 0x0b,
                    b'n' => b'\n',
                    b'f' => 0x0c,
                    b'r' => b'\r',
                    other => other,
                };
                out.push(byte)?;
                j += 2;
            }
            b'0'..=b'7' => {
                let d1 = body.get(at + 1).copied().and_then(octal);
                let d2 = body.get(at + 2).copied().and_then(octal);
                let (Some(d1), Some(d2)) = (d1, d2) else {
                    return fail(at, SexpErrorKind::BadEscape);
                };
                // \400..\777 wrap, as libgcrypt's store into a byte does.
                let v = (e - b'0')
                    .wrapping_mul(64)
                    .wrapping_add(d1 * 8)
                    .wrapping_add(d2);
                out.push(v)?;
                j += 4;
            }
            b'x' => {
                let h1 = body.get(at + 1).copied().and_then(hex_digit);
                let h2 = body.get(at + 2).copied().and_then(hex_digit);
                let (Some(h1), Some(h2)) = (h1, h2) else {
                    return fail(at, SexpErrorKind::BadEscape);
                };
                out.push((h1 << 4) | h2)?;
                j += 4;
            }
            b'\r' | b'\n' => {
                // Line continuation: the backslash and CR, LF, CRLF or LFCR vanish.
                let pair = if e == b'\r' { b'\n' } else { b'\r' };
                j += 2;
                if body.get(j) == Some(&pair) {
                    j += 1;
                }
            }
            _ => return fail(at, SexpErrorKind::BadEscape),
        }
    }
    Ok((out.buf, end + 1))
}

/// `#...#` starting at `start`.
fn hex(input: &[u8], start: usize) -> Result<(Zeroizing<Vec<u8>>, usize), SexpError> {
    let mut digits = 0usize;
    let mut end = None;
    for (k, &c) in input.iter().enumerate().skip(start + 1) {
        if c == b'#' {
            end = Some(k);
            break;
        } else if hex_digit(c).is_some() {
            digits += 1;
        } else if !is_space(c) {
            return fail(k, SexpErrorKind::BadHexChar);
        }
    }
    let Some(end) = end else {
        return fail(start, SexpErrorKind::UnterminatedHex);
    };
    if digits % 2 != 0 {
        return fail(end, SexpErrorKind::OddHexDigits);
    }
    if digits / 2 > MAX_ATOM_LEN {
        return fail(start, SexpErrorKind::AtomTooLong);
    }
    let mut out = Zeroizing::new(Vec::with_capacity(digits / 2));
    let mut high: Option<u8> = None;
    for &c in &input[start + 1..end] {
        if let Some(v) = hex_digit(c) {
            match high.take() {
                None => high = Some(v),
                Some(h) => out.push((h << 4) | v),
            }
        }
    }
    Ok((out, end + 1))
}

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// `|...|` starting at `start`.
fn base64(input: &[u8], start: usize) -> Result<(Zeroizing<Vec<u8>>, usize), SexpError> {
    let Some(len) = input[start + 1..].iter().position(|&c| c == b'|') else {
        return fail(start, SexpErrorKind::UnterminatedBase64);
    };
    let end = start + 1 + len;
    let body = &input[start + 1..end];
    let mut out = AtomBuf::new(start, body.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut sextets = 0usize;
    let mut padding = false;
    for (k, &c) in body.iter().enumerate() {
        let at = start + 1 + k;
        if is_space(c) {
            continue;
        }
        if c == b'=' {
            padding = true;
            continue;
        }
        let Some(v) = base64_value(c) else {
            return fail(at, SexpErrorKind::BadBase64);
        };
        if padding {
            // Data after '='.
            return fail(at, SexpErrorKind::BadBase64);
        }
        sextets += 1;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff).to_be_bytes()[3])?;
            acc &= (1 << bits) - 1;
        }
    }
    if sextets % 4 == 1 {
        // Six bits cannot end a byte string.
        return fail(end, SexpErrorKind::BadBase64);
    }
    Ok((out.buf, end + 1))
}

/// `N:bytes`, or a (meaningless) length before `"`, `#` or `|`, starting at `start`.
fn length_prefixed(input: &[u8], start: usize) -> Result<(Zeroizing<Vec<u8>>, usize), SexpError> {
    let digits = input[start..]
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(input.len() - start);
    let after = start + digits;
    match input.get(after) {
        Some(b':') => {
            let mut len = 0usize;
            for &d in &input[start..after] {
                len = len.saturating_mul(10).saturating_add(usize::from(d - b'0'));
            }
            if len > MAX_ATOM_LEN {
                return fail(start, SexpErrorKind::AtomTooLong);
            }
            let data = after + 1;
            if len > input.len() - data {
                return fail(after, SexpErrorKind::LengthBeyondEnd);
            }
            Ok((Zeroizing::new(input[data..data + len].to_vec()), data + len))
        }
        Some(b'"') => quoted(input, after),
        Some(b'#') => hex(input, after),
        Some(b'|') => base64(input, after),
        _ => fail(after, SexpErrorKind::BadLengthSpec),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn atoms(s: &Sexp) -> Vec<Vec<u8>> {
        s.as_list()
            .unwrap()
            .iter()
            .map(|e| e.as_atom().unwrap().to_vec())
            .collect()
    }

    fn err_kind(input: &[u8]) -> SexpErrorKind {
        parse(input).unwrap_err().kind
    }

    #[test]
    fn every_atom_form_reads_to_the_same_bytes() {
        // "ab\nc" written eight ways.
        let forms: [&[u8]; 10] = [
            b"(x \"ab\\nc\")",
            b"(x #61620A63#)",
            b"(x # 61 6 2 0a63 #)",
            b"(x |YWIKYw==|)",
            b"(x |YWIKYw|)",
            b"(x |YW IK\nYw==|)",
            b"(x 4:ab\nc)",
            b"(x 4\"ab\\012c\")",
            b"(x 99#61620a63#)",
            b"(x \"a\\x62\\x0ac\")",
        ];
        for f in forms {
            let s = parse(f).unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(f)));
            assert_eq!(atoms(&s), vec![b"x".to_vec(), b"ab\nc".to_vec()], "{f:?}");
        }
    }

    #[test]
    fn quoted_string_escapes() {
        let s = parse(b"(\"\\b\\t\\v\\n\\f\\r\\\"\\'\\\\\")").unwrap();
        assert_eq!(atoms(&s), vec![b"\x08\t\x0b\n\x0c\r\"'\\".to_vec()]);
        // Octal wraps mod 256 like libgcrypt's byte store; \000 is a NUL.
        let s = parse(b"(\"\\101\\000\\777\")").unwrap();
        assert_eq!(atoms(&s), vec![vec![b'A', 0, 0xff]]);
        // Line continuations: backslash + CR, LF, CRLF or LFCR vanish.
        let s = parse(b"(\"a\\\nb\\\r\nc\\\n\rd\\\re\")").unwrap();
        assert_eq!(atoms(&s), vec![b"abcde".to_vec()]);
        // Raw bytes, newlines included, pass through.
        let s = parse(b"(\"\xa7\xd5\n#)\")").unwrap();
        assert_eq!(atoms(&s), vec![b"\xa7\xd5\n#)".to_vec()]);
    }

    #[test]
    fn tokens_and_separators() {
        let s = parse(b"(protocol prpl-jabber)").unwrap();
        assert_eq!(
            atoms(&s),
            vec![b"protocol".to_vec(), b"prpl-jabber".to_vec()]
        );
        // No whitespace needed between a token and a string, or around lists.
        let s = parse(b"(a\"b\"c#64#(d)e)").unwrap();
        let items = s.as_list().unwrap();
        assert_eq!(items.len(), 6);
        assert_eq!(items[0].as_atom(), Some(&b"a"[..]));
        assert_eq!(items[1].as_atom(), Some(&b"b"[..]));
        assert_eq!(items[2].as_atom(), Some(&b"c"[..]));
        assert_eq!(items[3].as_atom(), Some(&b"d"[..]));
        assert_eq!(items[4].nth_atom(0), Some(&b"d"[..]));
        assert_eq!(items[5].as_atom(), Some(&b"e"[..]));
        // Token characters, digits after the first.
        let s = parse(b"(-./_:*+=a9)").unwrap();
        assert_eq!(atoms(&s), vec![b"-./_:*+=a9".to_vec()]);
        // Every whitespace libgcrypt knows.
        let s = parse(b"\t\x0b\x0c\r\n (a\tb\x0bc\x0cd\re\nf) \n").unwrap();
        assert_eq!(atoms(&s).len(), 6);
    }

    #[test]
    fn display_hints_are_read_as_libgcrypt_reads_them() {
        // libgcrypt keeps the atoms inside [...] as ordinary list elements.
        let s = parse(b"(name [text/plain] \"alice\")").unwrap();
        assert_eq!(
            atoms(&s),
            vec![b"name".to_vec(), b"text/plain".to_vec(), b"alice".to_vec()]
        );
        assert_eq!(err_kind(b"(a [b [c]])"), SexpErrorKind::NestedHint);
        assert_eq!(err_kind(b"(a b])"), SexpErrorKind::UnmatchedHintClose);
        assert_eq!(err_kind(b"(a [b (c)])"), SexpErrorKind::ParenInHint);
        assert_eq!(err_kind(b"(a [b)"), SexpErrorKind::ParenInHint);
        assert_eq!(err_kind(b"(a) [b"), SexpErrorKind::UnclosedHint);
    }

    #[test]
    fn empty_atoms() {
        let s = parse(b"(\"\" ## ||)").unwrap();
        assert_eq!(atoms(&s), vec![vec![], vec![], vec![]]);
    }

    #[test]
    fn structural_errors_carry_offsets() {
        assert_eq!(
            parse(b"(a (b)").unwrap_err(),
            SexpError {
                offset: 0,
                kind: SexpErrorKind::UnclosedList
            }
        );
        assert_eq!(
            parse(b"(a (b c").unwrap_err(),
            SexpError {
                offset: 3,
                kind: SexpErrorKind::UnclosedList
            }
        );
        assert_eq!(
            parse(b"(a))").unwrap_err(),
            SexpError {
                offset: 3,
                kind: SexpErrorKind::UnmatchedClose
            }
        );
        assert_eq!(err_kind(b""), SexpErrorKind::Empty);
        assert_eq!(err_kind(b" \n\t"), SexpErrorKind::Empty);
        assert_eq!(err_kind(b"abc"), SexpErrorKind::NotOneList);
        assert_eq!(
            parse(b"(a)\n(b)").unwrap_err(),
            SexpError {
                offset: 4,
                kind: SexpErrorKind::NotOneList
            }
        );
        assert_eq!(err_kind(b"(a) junk"), SexpErrorKind::NotOneList);
    }

    #[test]
    fn atom_errors() {
        assert_eq!(err_kind(b"(a \"bc)"), SexpErrorKind::UnterminatedString);
        assert_eq!(err_kind(b"(a \"bc\\"), SexpErrorKind::UnterminatedString);
        assert_eq!(err_kind(b"(a \"\\q\")"), SexpErrorKind::BadEscape);
        assert_eq!(err_kind(b"(a \"\\x4\")"), SexpErrorKind::BadEscape);
        assert_eq!(err_kind(b"(a \"\\x4g\")"), SexpErrorKind::BadEscape);
        assert_eq!(err_kind(b"(a \"\\12\")"), SexpErrorKind::BadEscape);
        assert_eq!(err_kind(b"(a \"\\128\")"), SexpErrorKind::BadEscape);
        assert_eq!(err_kind(b"(a #0011"), SexpErrorKind::UnterminatedHex);
        assert_eq!(err_kind(b"(a #0011)"), SexpErrorKind::BadHexChar);
        assert_eq!(err_kind(b"(a #00G1#)"), SexpErrorKind::BadHexChar);
        assert_eq!(err_kind(b"(a #001#)"), SexpErrorKind::OddHexDigits);
        assert_eq!(err_kind(b"(a |YWJj)"), SexpErrorKind::UnterminatedBase64);
        assert_eq!(err_kind(b"(a |YW*j|)"), SexpErrorKind::BadBase64);
        assert_eq!(err_kind(b"(a |YWJjZ|)"), SexpErrorKind::BadBase64);
        assert_eq!(err_kind(b"(a |YQ==YQ|)"), SexpErrorKind::BadBase64);
        assert_eq!(err_kind(b"(a 0:)"), SexpErrorKind::LengthWithLeadingZero);
        assert_eq!(err_kind(b"(a 3 abc)"), SexpErrorKind::BadLengthSpec);
        assert_eq!(err_kind(b"(a 3"), SexpErrorKind::BadLengthSpec);
        assert_eq!(err_kind(b"(a 9:abc)"), SexpErrorKind::LengthBeyondEnd);
        assert_eq!(err_kind(b"(a {YWJj})"), SexpErrorKind::UnexpectedCharacter);
        assert_eq!(err_kind(b"(a & b)"), SexpErrorKind::UnexpectedCharacter);
        assert_eq!(err_kind(b"(a \\ b)"), SexpErrorKind::UnexpectedCharacter);
        assert_eq!(
            err_kind(b"(a \xc3\xa9)"),
            SexpErrorKind::UnexpectedCharacter
        );
        assert_eq!(err_kind(b"(a \0)"), SexpErrorKind::UnexpectedCharacter);
    }

    #[test]
    fn huge_lengths_are_refused_without_allocating() {
        assert_eq!(
            err_kind(b"(a 99999999999999999999999999999999:x)"),
            SexpErrorKind::AtomTooLong
        );
        assert_eq!(err_kind(b"(a 65536:x)"), SexpErrorKind::AtomTooLong);
        // 65535 is allowed when the bytes are there.
        let mut ok = b"(a 65535:".to_vec();
        ok.extend(std::iter::repeat_n(b'z', 65535));
        ok.push(b')');
        assert_eq!(parse(&ok).unwrap().nth_atom(1).unwrap().len(), 65535);
        // A quoted string, hex and a token past the limit.
        let mut long = b"(a \"".to_vec();
        long.extend(std::iter::repeat_n(b'z', 65536));
        long.extend_from_slice(b"\")");
        assert_eq!(err_kind(&long), SexpErrorKind::AtomTooLong);
        let mut long = b"(a #".to_vec();
        long.extend(std::iter::repeat_n(b'0', 2 * 65536));
        long.extend_from_slice(b"#)");
        assert_eq!(err_kind(&long), SexpErrorKind::AtomTooLong);
        let mut long = b"(a ".to_vec();
        long.extend(std::iter::repeat_n(b'z', 65536));
        long.push(b')');
        assert_eq!(err_kind(&long), SexpErrorKind::AtomTooLong);
        // The whole input.
        let big = vec![b' '; MAX_INPUT_LEN + 1];
        assert_eq!(err_kind(&big), SexpErrorKind::InputTooLarge);
    }

    #[test]
    fn nesting_and_element_count_are_bounded() {
        let ok = format!("{}{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert_eq!(
            parse(deep.as_bytes()).unwrap_err(),
            SexpError {
                offset: MAX_DEPTH,
                kind: SexpErrorKind::TooDeep
            }
        );
        // A very deep hostile input fails fast instead of recursing.
        let hostile = "(".repeat(500_000);
        assert_eq!(err_kind(hostile.as_bytes()), SexpErrorKind::TooDeep);
        let many = format!("({})", "a ".repeat(MAX_NODES));
        assert_eq!(err_kind(many.as_bytes()), SexpErrorKind::TooManyElements);
        let many = format!("({})", "() ".repeat(MAX_NODES));
        assert_eq!(err_kind(many.as_bytes()), SexpErrorKind::TooManyElements);
    }

    #[test]
    fn find_token_searches_in_document_order() {
        let s = parse(b"(account (x (name inner)) (name outer) (protocol p))").unwrap();
        assert_eq!(
            s.find_token(b"name").unwrap().nth_atom(1),
            Some(&b"inner"[..])
        );
        assert_eq!(
            s.find_token(b"protocol").unwrap().nth_atom(1),
            Some(&b"p"[..])
        );
        assert_eq!(
            s.find_token(b"account").unwrap().nth_atom(0),
            Some(&b"account"[..])
        );
        assert!(s.find_token(b"nam").is_none());
        // An atom equal to the token that does not start a list is not a match.
        let s = parse(b"(a name (b))").unwrap();
        assert!(s.find_token(b"name").is_none());
        // nth_atom of a list element is None.
        let s = parse(b"(name (x))").unwrap();
        assert_eq!(s.nth_atom(1), None);
        assert_eq!(s.nth_atom(2), None);
    }

    #[test]
    fn encoding_choice_follows_libgcrypt() {
        assert_eq!(encoding_of(b"prpl-jabber"), Encoding::Token);
        assert_eq!(encoding_of(b"otrtest1"), Encoding::Token);
        assert_eq!(encoding_of(b"alice@example.org/"), Encoding::Quoted);
        assert_eq!(encoding_of(b"1abc"), Encoding::Quoted);
        assert_eq!(encoding_of(b""), Encoding::Quoted);
        assert_eq!(encoding_of(b"a b"), Encoding::Quoted);
        assert_eq!(encoding_of(b"tab\there"), Encoding::Quoted);
        assert_eq!(encoding_of("é".as_bytes()), Encoding::Hex);
        assert_eq!(encoding_of("aé".as_bytes()), Encoding::Quoted);
        assert_eq!(encoding_of(b"a\x80"), Encoding::Hex);
        assert_eq!(encoding_of(b"a\x01"), Encoding::Hex);
        assert_eq!(encoding_of(b"a\x7f"), Encoding::Hex);
        assert_eq!(encoding_of(b"\x00abc"), Encoding::Hex);
        assert_eq!(encoding_of(b"abc\x00"), Encoding::Hex);
        assert_eq!(encoding_of(b"\x7fabc"), Encoding::Hex);
    }

    #[test]
    fn advanced_layout_matches_libgcrypt() {
        let key = Sexp::list(vec![
            Sexp::atom(b"private-key"),
            Sexp::list(vec![
                Sexp::atom(b"dsa"),
                Sexp::list(vec![Sexp::atom(b"p"), Sexp::atom(&[0x00, 0xc7])]),
                Sexp::list(vec![Sexp::atom(b"x"), Sexp::atom(&[0x72, 0x01])]),
            ]),
        ]);
        assert_eq!(
            &key.to_advanced()[..],
            &b"(private-key \n (dsa \n  (p #00C7#)\n  (x #7201#)\n  )\n )\n"[..]
        );
        assert_eq!(key.advanced_len(), key.to_advanced().len());
        let name = Sexp::list(vec![Sexp::atom(b"name"), Sexp::atom(b"a\"b\\c")]);
        assert_eq!(&name.to_advanced()[..], &b"(name \"a\\\"b\\\\c\")\n"[..]);
        let proto = Sexp::list(vec![Sexp::atom(b"protocol"), Sexp::atom(b"prpl-aim")]);
        assert_eq!(&proto.to_advanced()[..], &b"(protocol prpl-aim)\n"[..]);
        // A list followed by an atom, and an empty list.
        let mixed = Sexp::list(vec![
            Sexp::list(vec![]),
            Sexp::atom(b"a"),
            Sexp::list(vec![Sexp::atom(b"b")]),
        ]);
        assert_eq!(&mixed.to_advanced()[..], &b"(\n ()\n a \n (b)\n )\n"[..]);
    }

    #[test]
    fn printing_then_reading_round_trips() {
        let mut every_byte = Vec::new();
        for b in 0..=255u8 {
            every_byte.push(b);
        }
        let values: Vec<Vec<u8>> = vec![
            b"token".to_vec(),
            b"with space".to_vec(),
            b"quote\"and\\back\nslash\t'".to_vec(),
            "üñí".as_bytes().to_vec(),
            vec![0x00, 0x01, 0x02],
            vec![0xff; 20],
            vec![],
            every_byte,
        ];
        let s = Sexp::list(
            values
                .iter()
                .map(|v| Sexp::list(vec![Sexp::atom(b"v"), Sexp::atom(v)]))
                .collect(),
        );
        let text = s.to_advanced();
        let back = parse(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.to_advanced(), text);
    }

    #[test]
    fn debug_does_not_show_atom_contents() {
        let s = parse(b"(x #DEADBEEF#)").unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("DEAD") && !shown.contains("dead") && !shown.contains("222"));
        assert!(shown.contains("4 bytes"));
    }
}
