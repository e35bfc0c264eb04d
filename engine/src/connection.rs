//! One client connection: reads bytes, hands them to the parser, runs requests, writes replies.
//!
//! Requests are processed as long as the buffer holds complete ones, and their replies are
//! gathered and sent in one write, so a client that pipelines gets its answers in order with
//! few system calls. A request split across reads waits in the buffer for the rest. A value the
//! server refuses (too large) is swallowed as it arrives and never held in memory. Long
//! multi-gets are sent in pieces so the output buffer stays bounded.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::commands::{Cache, Flow};
use crate::protocol::auth::{self, AuthStep};
use crate::protocol::{Framer, Parsed, Request, Then};
use crate::stats::Stats;

/// Replies are sent once this many bytes are waiting, even mid-request.
const FLUSH_THRESHOLD: usize = 256 * 1024;

/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// Serves one client until it quits, disconnects or breaks the protocol beyond recovery. The
/// stream is a TCP socket or an RDMA connection: both are byte streams to the protocol.
pub async fn serve<S>(mut stream: S, cache: Arc<Cache>) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = cache.limits();
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut output: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut framer = Framer::new();
    // With `-Y`, input goes to the authentication parser until a token is accepted.
    let mut authenticated = cache.config.auth.is_none();
    loop {
        let mut consumed = 0usize;
        let mut close = false;
        loop {
            if let (false, Some(users)) = (authenticated, cache.config.auth.as_deref()) {
                match auth::step(&input[consumed..], users) {
                    AuthStep::Incomplete => break,
                    AuthStep::Close => {
                        close = true;
                        break;
                    }
                    AuthStep::Reply {
                        consumed: taken,
                        reply,
                        authenticated: accepted,
                    } => {
                        consumed += taken;
                        output.extend_from_slice(reply.as_bytes());
                        output.extend_from_slice(b"\r\n");
                        if accepted || reply == auth::FAILURE {
                            Stats::incr(&cache.stats.auth_cmds);
                        }
                        if reply == auth::FAILURE {
                            Stats::incr(&cache.stats.auth_errors);
                        }
                        authenticated = accepted;
                        continue;
                    }
                }
            }
            let step = framer.next(&input[consumed..], &limits);
            consumed += step.consumed;
            match step.parsed {
                Parsed::Incomplete => break,
                Parsed::Request { request, .. } => {
                    if let Request::Get { kind, keys } = &request {
                        cache.apply_due_flush();
                        for key in keys.iter() {
                            cache.get_one(*kind, key, &mut output).await;
                            if output.len() >= FLUSH_THRESHOLD {
                                send(&mut stream, &mut output, &cache).await?;
                            }
                        }
                        cache.end_get(&mut output);
                    } else if cache.execute(&request, &mut output).await == Flow::Close {
                        close = true;
                    }
                }
                Parsed::Error {
                    line,
                    then,
                    noreply,
                    ..
                } => {
                    if !noreply {
                        output.extend_from_slice(line.as_bytes());
                        output.extend_from_slice(b"\r\n");
                    }
                    match then {
                        Then::SwallowAndDrop { key, .. } => cache.drop_key(&key),
                        Then::Close => close = true,
                        Then::Continue | Then::Swallow(_) => {}
                    }
                }
            }
            if close {
                break;
            }
            if output.len() >= FLUSH_THRESHOLD {
                send(&mut stream, &mut output, &cache).await?;
            }
        }
        if !output.is_empty() {
            send(&mut stream, &mut output, &cache).await?;
        }
        if close {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        input.drain(..consumed);
        if input.capacity() - input.len() < READ_CHUNK {
            input.reserve(READ_CHUNK.max(input.len()));
        }
        let n = match cache.config.idle_timeout {
            None => stream.read_buf(&mut input).await?,
            Some(idle) => match tokio::time::timeout(idle, stream.read_buf(&mut input)).await {
                Ok(read) => read?,
                // Idle too long: closed without a reply, as memcached does.
                Err(_) => {
                    Stats::incr(&cache.stats.idle_kicks);
                    return Ok(());
                }
            },
        };
        if n == 0 {
            return Ok(());
        }
        Stats::add(&cache.stats.bytes_read, n as u64);
        // Keep an idle connection cheap: give back a buffer that grew for one large value.
        if input.is_empty() && input.capacity() > 4 * READ_CHUNK {
            input = Vec::with_capacity(READ_CHUNK);
        }
    }
}

async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    output: &mut Vec<u8>,
    cache: &Cache,
) -> std::io::Result<()> {
    stream.write_all(output).await?;
    Stats::add(&cache.stats.bytes_written, output.len() as u64);
    output.clear();
    if output.capacity() > 4 * FLUSH_THRESHOLD {
        *output = Vec::with_capacity(READ_CHUNK);
    }
    Ok(())
}
