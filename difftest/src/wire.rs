//! Talking to one server: send a step, collect its whole reply, normalise what must differ.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::gen::Step;

/// How long a reply may take before the server counts as not answering (a server that waits
/// for more data, as both do after a too-large length, never answers).
pub const REPLY_WAIT: Duration = Duration::from_millis(2000);

/// A reply, as received and as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Bytes up to the sentinel's answer, normalised.
    Answered(Vec<u8>),
    /// The server closed the connection after these bytes.
    Closed(Vec<u8>),
    /// No complete answer within [`REPLY_WAIT`]; these bytes came.
    Silent(Vec<u8>),
}

impl Reply {
    /// True when the connection cannot carry more steps.
    pub fn ends_stream(&self) -> bool {
        !matches!(self, Reply::Answered(_))
    }

    pub fn show(&self) -> String {
        match self {
            Reply::Answered(b) => crate::gen::show(b),
            Reply::Closed(b) => format!("{} <closed>", crate::gen::show(b)),
            Reply::Silent(b) => format!("{} <no reply>", crate::gen::show(b)),
        }
    }
}

/// One connection to a server, with what normalisation needs to remember.
pub struct Session {
    stream: TcpStream,
    /// CAS values in the order this server first reported them: a CAS is compared by its
    /// rank, since servers number versions differently.
    cas_seen: Vec<u64>,
    last_cas: Option<u64>,
}

/// The sentinel sent after each step: its answer marks the end of the step's reply.
const SENTINEL: &[u8] = b"mn\r\n";
const SENTINEL_REPLY: &[u8] = b"MN\r\n";

impl Session {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_millis(20)))?;
        Ok(Self {
            stream,
            cas_seen: Vec::new(),
            last_cas: None,
        })
    }

    /// Sends `step` (in its writes) and the sentinel, and returns the step's reply.
    pub fn exchange(&mut self, step: &Step) -> Reply {
        let bytes = self.complete(&step.bytes);
        let sent = if bytes.len() == step.bytes.len() {
            let mut at = 0;
            step.splits.iter().try_for_each(|&n| {
                let r = self.stream.write_all(&bytes[at..at + n]);
                at += n;
                r
            })
        } else {
            self.stream.write_all(&bytes)
        };
        let sentinels = 1 + usize::from(step.bytes == SENTINEL);
        if sent.and_then(|()| self.stream.write_all(SENTINEL)).is_err() {
            return Reply::Closed(Vec::new());
        }
        let mut got = Vec::new();
        let deadline = Instant::now() + REPLY_WAIT;
        let mut buf = [0u8; 16 * 1024];
        loop {
            if got.ends_with(SENTINEL_REPLY) && count(&got, SENTINEL_REPLY) >= sentinels {
                got.truncate(got.len() - SENTINEL_REPLY.len());
                return Reply::Answered(self.normalise(&got));
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Reply::Closed(self.normalise(&got)),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if Instant::now() >= deadline {
                        return Reply::Silent(self.normalise(&got));
                    }
                }
                Err(_) => return Reply::Closed(self.normalise(&got)),
            }
        }
    }

    /// Puts this server's last reported CAS where the request asks for it.
    fn complete(&self, bytes: &[u8]) -> Vec<u8> {
        // Before any CAS is seen, one that no version has.
        let cas = self.last_cas.unwrap_or(999_999_999).to_string();
        crate::gen::fill_cas(bytes, cas.as_bytes())
    }

    /// Replaces what legitimately differs: CAS values (by rank of first appearance), the
    /// version string, and the seconds-based meta fields `t` and `l`.
    fn normalise(&mut self, reply: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(reply.len());
        let mut rest = reply;
        while !rest.is_empty() {
            let line_end = find(rest, b"\r\n").map_or(rest.len(), |i| i + 2);
            let line = &rest[..line_end];
            rest = &rest[line_end..];
            if line.starts_with(b"VALUE ") {
                let text = String::from_utf8_lossy(line);
                let mut tokens: Vec<String> =
                    text.trim_end().split(' ').map(str::to_string).collect();
                let data_len: usize = tokens.get(3).and_then(|t| t.parse().ok()).unwrap_or(0);
                if let Some(cas) = tokens.get(4).and_then(|t| t.parse::<u64>().ok()) {
                    tokens[4] = format!("cas#{}", self.rank(cas));
                }
                out.extend_from_slice(tokens.join(" ").as_bytes());
                out.extend_from_slice(b"\r\n");
                // The data block (and its CRLF) as is.
                let take = (data_len + 2).min(rest.len());
                out.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
            } else if line.starts_with(b"VERSION ") {
                out.extend_from_slice(b"VERSION x\r\n");
            } else if is_meta_reply(line) {
                let text = String::from_utf8_lossy(line);
                let mut tokens: Vec<String> =
                    text.trim_end().split(' ').map(str::to_string).collect();
                for token in tokens.iter_mut().skip(1) {
                    if let Some(cas) = token.strip_prefix('c').and_then(|v| v.parse().ok()) {
                        *token = format!("c#{}", self.rank(cas));
                    } else if token.starts_with('t') && token != "t-1" && token.len() > 1 {
                        *token = "t#".into();
                    } else if token.starts_with('l')
                        && token[1..].bytes().all(|b| b.is_ascii_digit())
                    {
                        *token = "l#".into();
                    }
                }
                out.extend_from_slice(tokens.join(" ").as_bytes());
                out.extend_from_slice(b"\r\n");
                if line.starts_with(b"VA ") {
                    let data_len: usize = tokens[1].parse().unwrap_or(0);
                    let take = (data_len + 2).min(rest.len());
                    out.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                }
            } else {
                out.extend_from_slice(line);
            }
        }
        out
    }

    fn rank(&mut self, cas: u64) -> usize {
        self.last_cas = Some(cas);
        match self.cas_seen.iter().position(|&c| c == cas) {
            Some(i) => i,
            None => {
                self.cas_seen.push(cas);
                self.cas_seen.len() - 1
            }
        }
    }
}

fn is_meta_reply(line: &[u8]) -> bool {
    [&b"HD"[..], b"VA ", b"EN", b"NF", b"NS", b"EX"]
        .iter()
        .any(|p| line.starts_with(p))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}
