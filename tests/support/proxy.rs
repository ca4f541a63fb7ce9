//! A loopback TCP proxy in front of the XMPP server that records every byte both ways, so a
//! test can show what the server (or anyone on the path) saw. The test server runs without
//! TLS on loopback, so the recording is the XML itself.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

pub struct Proxy {
    pub port: u16,
    recorded: Arc<Mutex<Vec<u8>>>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards each connection to `target_port`.
    pub fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy: bind 127.0.0.1");
        let port = listener.local_addr().expect("proxy: local addr").port();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&recorded);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(mut from), Ok(mut to)) = (from, to) else {
                        continue;
                    };
                    let rec = Arc::clone(&rec);
                    thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if let Ok(mut r) = rec.lock() {
                                        r.extend_from_slice(&buf[..n]);
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
        Proxy { port, recorded }
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
