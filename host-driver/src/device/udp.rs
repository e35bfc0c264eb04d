//! The board link: a CacheAccelerator behind gigabit Ethernet (an ECP5 board running
//! `boards/<board>`: LiteEth's UDP/IP core and `rtl/udp_job_bridge.v`), driven with
//! datagrams.
//!
//! Frames travel as they do on every link — a 64-byte job header and the payload out, a
//! result header and the output back — cut into fragments that fit a 1500-byte MTU (see
//! [`datagram`] for the layout the bridge defines). Registers are one request datagram and one
//! answer each, retried a few times. Nothing here trusts the network: a result is handed up
//! only once every fragment of it is in (in any order, repeats ignored), partial results are
//! forgotten after a while, and a job whose result never completes times out in
//! [`super::DeviceCodec`] like on any device, which then redoes it in software.
//!
//! Copies per value: one from the caller's payload into each fragment's datagram buffer (the
//! kernel copies it again into the socket); one from the received fragments into the result
//! frame. No board was available to run this against hardware: it is tested against the
//! verilated board core through real sockets ([`super::board_sim`]).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::defs::{
    UDP_FRAGMENT_BYTES, UDP_HEADER_BYTES, UDP_KIND_JOB, UDP_KIND_REG_DONE, UDP_KIND_REG_READ,
    UDP_KIND_REG_VALUE, UDP_KIND_REG_WRITE, UDP_KIND_RESULT, UDP_MAGIC, UDP_PORT,
};
use super::link::{DeviceLink, Received};
use super::protocol::BEAT_BYTES;

/// The datagram layout shared with `rtl/udp_job_bridge.v` (constants from
/// `rtl/cache_accelerator_defs.vh`): six little-endian 32-bit words, then data padded to a
/// word.
pub mod datagram {
    use super::*;

    pub const HEADER: usize = UDP_HEADER_BYTES as usize;
    pub const FRAGMENT: usize = UDP_FRAGMENT_BYTES as usize;

    /// One datagram's header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Header {
        pub kind: u8,
        /// The job's tag; for registers, the request id.
        pub tag: u32,
        pub seq: u16,
        /// Data bytes after the header.
        pub len: u16,
        /// The whole frame's bytes; for registers, the offset.
        pub total: u32,
        /// Where the board sends its answers (requests only).
        pub reply: SocketAddrV4,
    }

    impl Header {
        pub fn encode(&self, out: &mut Vec<u8>) {
            let words = [
                u32::from(UDP_MAGIC) | u32::from(self.kind) << 16,
                self.tag,
                u32::from(self.seq) | u32::from(self.len) << 16,
                self.total,
                u32::from(*self.reply.ip()),
                u32::from(self.reply.port()),
            ];
            for word in words {
                out.extend_from_slice(&word.to_le_bytes());
            }
        }

        /// The header of `datagram`, or `None` when it is not one of the bridge's.
        pub fn decode(datagram: &[u8]) -> Option<Self> {
            let word = |i: usize| {
                datagram
                    .get(4 * i..4 * i + 4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            };
            let first = word(0)?;
            if first as u16 != UDP_MAGIC {
                return None;
            }
            let seq_len = word(2)?;
            Some(Self {
                kind: (first >> 16) as u8,
                tag: word(1)?,
                seq: seq_len as u16,
                len: (seq_len >> 16) as u16,
                total: word(3)?,
                reply: SocketAddrV4::new(Ipv4Addr::from(word(4)?), word(5)? as u16),
            })
        }
    }

    /// The data of `datagram` its header announces, if all of it is there.
    pub fn data<'a>(header: &Header, datagram: &'a [u8]) -> Option<&'a [u8]> {
        datagram.get(HEADER..HEADER + usize::from(header.len))
    }

    /// Appends `data` padded to a whole 32-bit word (the UDP core moves words).
    pub fn push_padded(out: &mut Vec<u8>, data: &[u8]) {
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
}

use datagram::Header;

/// A result frame being put together from its fragments.
struct Partial {
    frame: Vec<u8>,
    have: Vec<bool>,
    missing: usize,
    started: Instant,
}

/// Results whose fragments stopped arriving are forgotten after this long (their jobs time
/// out on their own deadline, which is shorter).
const PARTIAL_LIFETIME: Duration = Duration::from_secs(10);
/// Register requests are sent this many times before the board counts as not answering.
const REGISTER_TRIES: u32 = 4;

/// A board reached over UDP.
pub struct UdpLink {
    socket: UdpSocket,
    board: SocketAddr,
    reply: SocketAddrV4,
    results: VecDeque<Received>,
    partial: HashMap<u32, Partial>,
    next_request: u32,
    register_timeout: Duration,
    base_timeout: Duration,
    datagram: Vec<u8>,
    receive_buffer: Vec<u8>,
}

impl UdpLink {
    /// Opens a link to the board at `spec` (`HOST` or `HOST:PORT`; port [`UDP_PORT`] when
    /// omitted). The local socket is bound on the address that routes to the board, and that
    /// address and port go into every request: the board answers there.
    pub fn open(spec: &str) -> io::Result<Self> {
        let board = resolve(spec)?;
        let IpAddr::V4(board_ip) = board.ip() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the board's UDP/IP core speaks IPv4 only",
            ));
        };
        // Which local address routes to the board: a connected probe socket knows.
        let probe = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        probe.connect(board)?;
        let local_ip = match probe.local_addr()?.ip() {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(_) => unreachable!("bound on an IPv4 address"),
        };
        drop(probe);
        let socket = UdpSocket::bind((local_ip, 0))?;
        let port = socket.local_addr()?.port();
        let base_timeout = if board_ip.is_loopback() {
            // The loopback board is a simulation: slower than the wire by far.
            Duration::from_secs(2)
        } else {
            Duration::from_millis(100)
        };
        Ok(Self {
            socket,
            board,
            reply: SocketAddrV4::new(local_ip, port),
            results: VecDeque::new(),
            partial: HashMap::new(),
            next_request: 1,
            register_timeout: base_timeout / 4,
            base_timeout,
            datagram: Vec::with_capacity(datagram::HEADER + datagram::FRAGMENT),
            receive_buffer: vec![0; 65_536],
        })
    }

    /// The board's address.
    pub fn board(&self) -> SocketAddr {
        self.board
    }

    fn send_datagram(&mut self, header: Header, data: &[u8]) -> io::Result<()> {
        self.datagram.clear();
        header.encode(&mut self.datagram);
        datagram::push_padded(&mut self.datagram, data);
        self.socket.send_to(&self.datagram, self.board).map(|_| ())
    }

    /// Receives one datagram from the board, waiting at most `timeout`; result fragments go
    /// into reassembly; a register answer is returned.
    fn receive(&mut self, timeout: Duration) -> io::Result<Option<(Header, u32)>> {
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_micros(100))))?;
        // The buffer is taken out while its fragment is placed (no copy of the data).
        let mut buffer = std::mem::take(&mut self.receive_buffer);
        let answer = self.receive_into(&mut buffer);
        self.receive_buffer = buffer;
        answer
    }

    fn receive_into(&mut self, buffer: &mut [u8]) -> io::Result<Option<(Header, u32)>> {
        let (len, from) = match self.socket.recv_from(buffer) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        if from.ip() != self.board.ip() {
            return Ok(None);
        }
        let datagram = &buffer[..len];
        let Some(header) = Header::decode(datagram) else {
            return Ok(None);
        };
        let Some(data) = datagram::data(&header, datagram) else {
            return Ok(None);
        };
        match header.kind {
            UDP_KIND_RESULT => {
                self.add_fragment(header, data);
                Ok(None)
            }
            UDP_KIND_REG_VALUE if data.len() == 4 => Ok(Some((
                header,
                u32::from_le_bytes(data.try_into().expect("4 bytes")),
            ))),
            UDP_KIND_REG_DONE => Ok(Some((header, 0))),
            _ => Ok(None),
        }
    }

    /// Places a result fragment; a frame whose every fragment is in becomes a result.
    fn add_fragment(&mut self, header: Header, data: &[u8]) {
        let total = header.total as usize;
        let offset = usize::from(header.seq) * datagram::FRAGMENT;
        let fragments = total.div_ceil(datagram::FRAGMENT);
        let expected = total.saturating_sub(offset).min(datagram::FRAGMENT);
        if total < BEAT_BYTES || offset >= total || data.len() != expected {
            return;
        }
        let now = Instant::now();
        self.partial
            .retain(|_, p| now.duration_since(p.started) < PARTIAL_LIFETIME);
        let partial = self.partial.entry(header.tag).or_insert_with(|| Partial {
            frame: vec![0; total],
            have: vec![false; fragments],
            missing: fragments,
            started: now,
        });
        let seq = usize::from(header.seq);
        if partial.frame.len() != total || partial.have[seq] {
            return;
        }
        partial.frame[offset..offset + data.len()].copy_from_slice(data);
        partial.have[seq] = true;
        partial.missing -= 1;
        if partial.missing == 0 {
            let done = self.partial.remove(&header.tag).expect("present");
            self.results.push_back(Received {
                frame: done.frame,
                cycles: None,
            });
        }
    }

    /// One register request, answered or retried.
    fn register(&mut self, kind: u8, offset: u32, value: Option<u32>) -> io::Result<u32> {
        for _ in 0..REGISTER_TRIES {
            let id = self.next_request;
            self.next_request = self.next_request.wrapping_add(1).max(1);
            let data = value.map(u32::to_le_bytes);
            let header = Header {
                kind,
                tag: id,
                seq: 0,
                len: data.map_or(0, |d| d.len() as u16),
                total: offset,
                reply: self.reply,
            };
            self.send_datagram(header, data.as_ref().map_or(&[][..], |d| &d[..]))?;
            let deadline = Instant::now() + self.register_timeout;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                let want = if kind == UDP_KIND_REG_READ {
                    UDP_KIND_REG_VALUE
                } else {
                    UDP_KIND_REG_DONE
                };
                if let Some((answer, value)) = self.receive(left)? {
                    if answer.tag == id && answer.kind == want && answer.total == offset {
                        return Ok(value);
                    }
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{}: no answer to a register request (offset {offset:#x}) after {REGISTER_TRIES} tries",
                self.board
            ),
        ))
    }
}

/// `HOST` or `HOST:PORT` to a socket address.
fn resolve(spec: &str) -> io::Result<SocketAddr> {
    let with_port = if spec.parse::<SocketAddr>().is_ok() || spec.rsplit_once(':').is_some() {
        spec.to_string()
    } else {
        format!("{spec}:{UDP_PORT}")
    };
    with_port
        .to_socket_addrs()?
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{spec}: no IPv4 address")))
}

impl DeviceLink for UdpLink {
    fn name(&self) -> String {
        format!("udp:{}", self.board)
    }

    fn send(&mut self, header: &[u8; BEAT_BYTES], payload: &Bytes) -> io::Result<()> {
        let tag = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        let total = BEAT_BYTES + payload.len();
        let mut chunk = Vec::with_capacity(datagram::FRAGMENT);
        let mut offset = 0;
        let mut seq = 0u16;
        while offset < total {
            let end = (offset + datagram::FRAGMENT).min(total);
            chunk.clear();
            // The frame is the header, then the payload: take the fragment's part of each.
            if offset < BEAT_BYTES {
                chunk.extend_from_slice(&header[offset..end.min(BEAT_BYTES)]);
            }
            if end > BEAT_BYTES {
                chunk.extend_from_slice(
                    &payload[offset.max(BEAT_BYTES) - BEAT_BYTES..end - BEAT_BYTES],
                );
            }
            let fragment = Header {
                kind: UDP_KIND_JOB,
                tag,
                seq,
                len: chunk.len() as u16,
                total: total as u32,
                reply: self.reply,
            };
            self.send_datagram(fragment, &chunk)?;
            offset = end;
            seq += 1;
        }
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(result) = self.results.pop_front() {
                return Ok(Some(result));
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(None);
            };
            // A register answer here is a late one, for a request already given up.
            self.receive(left)?;
        }
    }

    fn read_reg(&mut self, offset: u32) -> io::Result<u32> {
        self.register(UDP_KIND_REG_READ, offset, None)
    }

    fn write_reg(&mut self, offset: u32, value: u32) -> io::Result<()> {
        self.register(UDP_KIND_REG_WRITE, offset, Some(value))
            .map(|_| ())
    }

    fn timeout_for(&self, bytes: usize) -> Duration {
        // A loopback board simulates a few cycles per microsecond; a real one moves a byte
        // every 8 ns on the wire, each way.
        let per_byte = if self.board.ip().is_loopback() {
            Duration::from_micros(20)
        } else {
            Duration::from_nanos(100)
        };
        self.base_timeout + per_byte * bytes as u32
    }
}

#[cfg(test)]
mod tests {
    use super::datagram::*;
    use super::*;

    #[test]
    fn header_round_trips_and_other_datagrams_are_not_ours() {
        let header = Header {
            kind: UDP_KIND_JOB,
            tag: 0xDEAD_BEEF,
            seq: 3,
            len: 1440,
            total: 5000,
            reply: SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 100), 40_000),
        };
        let mut bytes = Vec::new();
        header.encode(&mut bytes);
        assert_eq!(bytes.len(), HEADER);
        assert_eq!(Header::decode(&bytes), Some(header));
        assert_eq!(&bytes[..3], &[0x4C, 0x55, UDP_KIND_JOB]);
        bytes[0] ^= 1;
        assert_eq!(Header::decode(&bytes), None);
        assert_eq!(Header::decode(&bytes[..10]), None);
    }

    #[test]
    fn data_is_padded_to_words_and_cut_at_the_announced_length() {
        let mut out = Vec::new();
        push_padded(&mut out, b"abcde");
        assert_eq!(out, b"abcde\0\0\0");
        let header = Header {
            kind: UDP_KIND_RESULT,
            tag: 1,
            seq: 0,
            len: 5,
            total: 5,
            reply: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
        };
        let mut datagram = Vec::new();
        header.encode(&mut datagram);
        datagram.extend_from_slice(&out);
        assert_eq!(data(&header, &datagram), Some(&b"abcde"[..]));
        assert_eq!(data(&header, &datagram[..HEADER + 4]), None);
    }

    #[test]
    fn ports_default_to_the_boards() {
        assert_eq!(resolve("127.0.0.1").unwrap().port(), UDP_PORT);
        assert_eq!(resolve("127.0.0.1:9000").unwrap().port(), 9000);
        assert!(resolve("[::1]:9000").is_err());
    }
}
