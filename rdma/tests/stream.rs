//! The byte stream over the emulated verbs: delivery with ring wrap, flow control, many
//! connections interleaved, and teardown with nothing leaked.

use std::net::SocketAddr;
use std::time::Duration;

use lzcache_rdma::{AsyncRdmaStream, ChannelConfig, Fabric, RdmaListener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 9, 8, 7], port))
}

/// Bytes that show where they came from: a shifted position pattern per stream.
fn pattern(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A small ring and staging area, so every test wraps many times and runs out of space.
fn tight() -> ChannelConfig {
    ChannelConfig {
        ring_bytes: 4096,
        staging_bytes: 3000,
        max_write: 1500,
        sq_depth: 8,
        rq_depth: 6,
        signal_every: 3,
        ..ChannelConfig::default()
    }
}

/// Serves echo connections until the runtime ends.
async fn echo_server(fabric: &Fabric, at: SocketAddr, config: ChannelConfig) -> RdmaListener {
    RdmaListener::bind(fabric, at, config).expect("listen")
}

async fn run_echo(listener: RdmaListener) {
    loop {
        let channel = listener.accept().await;
        tokio::spawn(async move {
            let mut stream = AsyncRdmaStream::new(channel).unwrap();
            let mut buf = vec![0u8; 7000];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// Sends `data` and reads back the echo concurrently (the echo blocks when nobody reads).
async fn echo_round_trip(
    fabric: &Fabric,
    at: SocketAddr,
    config: ChannelConfig,
    data: Vec<u8>,
) -> Vec<u8> {
    let stream = AsyncRdmaStream::connect(fabric, at, config)
        .await
        .expect("connect");
    let (mut reader, mut writer) = tokio::io::split(stream);
    let len = data.len();
    let send = async move {
        // Uneven pieces, so writes start at every offset of the rings.
        let mut at = 0;
        let mut step = 1;
        while at < data.len() {
            let end = (at + step).min(data.len());
            writer.write_all(&data[at..end]).await.unwrap();
            at = end;
            step = step * 7 % 5003 + 1;
        }
        writer
    };
    let receive = async move {
        let mut back = vec![0u8; len];
        reader.read_exact(&mut back).await.unwrap();
        (reader, back)
    };
    let (writer, (reader, back)) = tokio::join!(send, receive);
    let mut stream = reader.unsplit(writer);
    stream.shutdown().await.unwrap();
    back
}

#[tokio::test(flavor = "current_thread")]
async fn bytes_arrive_in_order_through_many_ring_wraps() {
    let fabric = Fabric::new(1);
    let listener = echo_server(&fabric, addr(1), tight()).await;
    let server = tokio::spawn(run_echo(listener));
    let data = pattern(42, 300_000);
    let back = echo_round_trip(&fabric, addr(1), tight(), data.clone()).await;
    assert!(back == data, "echoed bytes differ");
    server.abort();
    let _ = server.await;
    // The server's connection task ends on the disconnect; give the runtime its turn.
    wait_for(|| fabric.live_queue_pairs() == 0).await;
    assert_eq!(fabric.registered_regions(), 0, "registered memory leaked");
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_with_default_rings_talks_to_a_server_with_tight_ones() {
    let fabric = Fabric::new(2);
    let listener = echo_server(&fabric, addr(2), tight()).await;
    let server = tokio::spawn(run_echo(listener));
    let data = pattern(7, 200_000);
    let back = echo_round_trip(&fabric, addr(2), ChannelConfig::default(), data.clone()).await;
    assert!(back == data);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_interleave_without_mixing_bytes() {
    for (seed, delay_us) in [(3, 0), (4, 0), (5, 200)] {
        let fabric = Fabric::with_delays(seed, Duration::from_micros(delay_us));
        let listener = echo_server(&fabric, addr(3), tight()).await;
        let server = tokio::spawn(run_echo(listener));
        let clients: Vec<_> = (0..8u64)
            .map(|i| {
                let fabric = fabric.clone();
                tokio::spawn(async move {
                    let data = pattern(seed * 100 + i, 20_000 + i as usize * 3001);
                    let back = echo_round_trip(&fabric, addr(3), tight(), data.clone()).await;
                    assert!(back == data, "connection {i} got bytes of another");
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        server.abort();
        let _ = server.await;
        wait_for(|| fabric.live_queue_pairs() == 0).await;
        assert_eq!(fabric.registered_regions(), 0);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn connecting_to_nobody_is_refused_and_leaks_nothing() {
    let fabric = Fabric::new(6);
    let err = AsyncRdmaStream::connect(&fabric, addr(4), tight())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(fabric.registered_regions(), 0);
    assert_eq!(fabric.live_queue_pairs(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn the_reader_sees_end_of_stream_after_every_byte_sent_before_shutdown() {
    let fabric = Fabric::new(8);
    let listener = RdmaListener::bind(&fabric, addr(5), tight()).unwrap();
    let data = pattern(9, 50_000);
    let sent = data.clone();
    let server = tokio::spawn(async move {
        let channel = listener.accept().await;
        let mut stream = AsyncRdmaStream::new(channel).unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        all
    });
    let mut client = AsyncRdmaStream::connect(&fabric, addr(5), tight())
        .await
        .unwrap();
    client.write_all(&sent).await.unwrap();
    client.shutdown().await.unwrap();
    let got = server.await.unwrap();
    assert!(got == data, "{} of {} bytes arrived", got.len(), data.len());
    drop(client);
    assert_eq!(fabric.registered_regions(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn request_reply_costs_one_write_each_way_and_few_completions() {
    let fabric = Fabric::new(10);
    let listener = RdmaListener::bind(&fabric, addr(6), ChannelConfig::default()).unwrap();
    // The server answers each 100-byte request with one byte.
    let server = tokio::spawn(async move {
        let channel = listener.accept().await;
        let mut stream = AsyncRdmaStream::new(channel).unwrap();
        let mut request = [0u8; 100];
        let mut served = 0;
        while stream.read_exact(&mut request).await.is_ok() {
            stream.write_all(b"k").await.unwrap();
            served += 1;
        }
        (served, stream.channel().counters())
    });
    let mut client = AsyncRdmaStream::connect(&fabric, addr(6), ChannelConfig::default())
        .await
        .unwrap();
    let mut reply = [0u8; 1];
    for _ in 0..1000 {
        client.write_all(&[b'x'; 100]).await.unwrap();
        client.read_exact(&mut reply).await.unwrap();
    }
    client.shutdown().await.unwrap();
    let counters = client.channel().counters();
    let (served, server_counters) = server.await.unwrap();
    assert_eq!(served, 1000);
    // One write per request, plus one where a request straddles the end of the 64 KiB rings
    // (staging and peer ring wrap at the same offset here): 655 × 100 < 65 536 < 656 × 100.
    assert_eq!(counters.data_writes, 1001);
    assert_eq!(counters.bytes_sent, 100_000);
    assert_eq!(server_counters.data_writes, 1000);
    assert_eq!(server_counters.bytes_received, 100_000);
    // Each side returns credits every rq_depth/2 (16) messages it receives (its peer's writes
    // and credits), not per message; plus its HELLO and a flush.
    for (side, c, peer) in [
        ("client", counters, server_counters),
        ("server", server_counters, counters),
    ] {
        let received = peer.data_writes + peer.control_sends;
        assert!(
            c.control_sends <= received / 16 + 3,
            "{side} sent {} control messages for {received} received",
            c.control_sends
        );
        // Writes are signalled one in signal_every (16); control messages always.
        assert!(
            c.signalled <= c.data_writes / 16 + c.control_sends + 1,
            "{side}: {} of {} requests signalled",
            c.signalled,
            c.data_writes + c.control_sends
        );
    }
}

/// Polls `done` while letting other tasks run; fails the test after 10 s.
async fn wait_for(done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
