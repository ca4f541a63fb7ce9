//! A loopback TCP proxy in front of the XMPP server that records every byte both ways, so a
//! test can show what the server (or anyone on the path) saw. The test server runs without
//! TLS on loopback, so the recording is the XML itself. A test can also cut connections
//! (both ways, as a network failure would), chosen by what crossed on them.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

pub struct Proxy {
    pub port: u16,
    recorded: Arc<Mutex<Vec<u8>>>,
    connections: Arc<Mutex<Vec<Connection>>>,
}

/// One proxied connection: both sockets (to shut them down) and what crossed on it.
struct Connection {
    client: TcpStream,
    server: TcpStream,
    transcript: Arc<Mutex<Vec<u8>>>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards each connection to `target_port`.
    pub fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy: bind 127.0.0.1");
        let port = listener.local_addr().expect("proxy: local addr").port();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&recorded);
        let conns = Arc::clone(&connections);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                    continue;
                };
                let transcript = Arc::new(Mutex::new(Vec::new()));
                if let (Ok(c), Ok(s), Ok(mut list)) =
                    (client.try_clone(), server.try_clone(), conns.lock())
                {
                    list.push(Connection {
                        client: c,
                        server: s,
                        transcript: Arc::clone(&transcript),
                    });
                }
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(mut from), Ok(mut to)) = (from, to) else {
                        continue;
                    };
                    let rec = Arc::clone(&rec);
                    let transcript = Arc::clone(&transcript);
                    thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if let Ok(mut r) = rec.lock() {
                                        r.extend_from_slice(&buf[..n]);
                                    }
                                    if let Ok(mut t) = transcript.lock() {
                                        t.extend_from_slice(&buf[..n]);
                                    }
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        Proxy {
            port,
            recorded,
            connections,
        }
    }

    /// Cuts every connection on which `needle` crossed (either way), as a network failure
    /// would: both sockets shut down, so the client and the server each see the
    /// connection end. The number of connections cut.
    pub fn cut_where(&self, needle: &str) -> usize {
        let Ok(mut list) = self.connections.lock() else {
            return 0;
        };
        let mut cut = 0;
        list.retain(|c| {
            let matches = c
                .transcript
                .lock()
                .map(|t| String::from_utf8_lossy(&t).contains(needle))
                .unwrap_or(false);
            if matches {
                let _ = c.client.shutdown(Shutdown::Both);
                let _ = c.server.shutdown(Shutdown::Both);
                cut += 1;
            }
            !matches
        });
        cut
    }

    /// Writes `xml` to the client of every live connection on which `needle` crossed, as
    /// if the server had sent it (a server lying about presence, say). Call it while the
    /// connection is quiet: the bytes are not interleaved with a stanza in flight.
    pub fn inject_to_client(&self, needle: &str, xml: &str) -> usize {
        let Ok(list) = self.connections.lock() else {
            return 0;
        };
        let mut n = 0;
        for c in list.iter() {
            let matches = c
                .transcript
                .lock()
                .map(|t| String::from_utf8_lossy(&t).contains(needle))
                .unwrap_or(false);
            if matches && (&c.client).write_all(xml.as_bytes()).is_ok() {
                n += 1;
            }
        }
        n
    }

    /// Cuts every connection made so far.
    pub fn cut_all(&self) -> usize {
        self.cut_where("")
    }

    /// Everything that crossed so far, as text.
    pub fn recorded(&self) -> String {
        self.recorded
            .lock()
            .map(|r| String::from_utf8_lossy(&r).into_owned())
            .unwrap_or_default()
    }

    /// The text of every `<body>` element that crossed, in order (XML entities undone).
    pub fn bodies(&self) -> Vec<String> {
        Proxy::bodies_of(&self.recorded())
    }

    /// The `<body>` texts in a piece of recorded XML.
    pub fn bodies_of(xml: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = xml;
        while let Some(start) = rest.find("<body>") {
            let after = &rest[start + 6..];
            let Some(end) = after.find("</body>") else {
                break;
            };
            out.push(unescape(&after[..end]));
            rest = &after[end..];
        }
        out
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
