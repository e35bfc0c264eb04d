//! The emulated verbs behave as a NIC's do where the transport depends on it: receives are
//! consumed in order, failures put the queue pair in error and flush its work, misuse is refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lzcache_rdma::verbs::{
    Access, Completion, MemoryRegion, Provider, QpParams, QpState, QueuePair, RecvWr, SendOp,
    SendWr, Sge, VerbsError, WcOpcode, WcStatus,
};
use lzcache_rdma::{AsyncRdmaStream, ChannelConfig, Fabric};

const PARAMS: QpParams = QpParams {
    sq_depth: 4,
    rq_depth: 4,
    rnr_retry: 2,
};

/// A connected pair of raw queue pairs: (client, server).
fn pair(fabric: &Fabric, port: u16, params: QpParams) -> (Arc<dyn QueuePair>, Arc<dyn QueuePair>) {
    let at = SocketAddr::from(([10, 0, 0, 9], port));
    let listener = fabric.listen(at).unwrap();
    let client = fabric.connect(at, params, &mut |_| Ok(())).unwrap();
    let server = listener
        .accept(params, &mut |_| Ok(()))
        .unwrap()
        .expect("a request waits");
    assert_eq!(client.state(), QpState::Connected);
    (client, server)
}

/// Waits (spinning, bounded) for `n` completions.
fn completions(qp: &Arc<dyn QueuePair>, n: usize) -> Vec<Completion> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {out:?} of {n} completions arrived"
        );
        let want = n - out.len();
        if qp.poll_cq(&mut out, want) == 0 {
            std::thread::yield_now();
        }
    }
    out
}

fn sge(region: &Arc<dyn MemoryRegion>, offset: u64, len: u32) -> Sge {
    Sge {
        addr: region.addr() + offset,
        len,
        lkey: region.lkey(),
    }
}

fn send(wr_id: u64, sge: Sge, signaled: bool) -> SendWr {
    SendWr {
        wr_id,
        sge,
        op: SendOp::Send,
        signaled,
    }
}

#[test]
fn a_send_lands_in_the_first_posted_receive() {
    let fabric = Fabric::new(1);
    let (client, server) = pair(&fabric, 1, PARAMS);
    let out = client.register(64, Access::NONE).unwrap();
    let inbox = server.register(128, Access::LOCAL_WRITE).unwrap();
    server
        .post_recv(RecvWr {
            wr_id: 10,
            sge: Some(sge(&inbox, 0, 64)),
        })
        .unwrap();
    server
        .post_recv(RecvWr {
            wr_id: 11,
            sge: Some(sge(&inbox, 64, 64)),
        })
        .unwrap();
    out.write(0, b"first message");
    client.post_send(send(1, sge(&out, 0, 13), true)).unwrap();
    let got = completions(&server, 1);
    assert_eq!(
        (got[0].wr_id, got[0].status, got[0].byte_len),
        (10, WcStatus::Success, 13)
    );
    let mut bytes = [0u8; 13];
    inbox.read(0, &mut bytes);
    assert_eq!(&bytes, b"first message");
    assert_eq!(completions(&client, 1)[0].status, WcStatus::Success);
}

#[test]
fn receiver_not_ready_retries_then_fails_and_flushes_both_sides() {
    let fabric = Fabric::new(2);
    let (client, server) = pair(&fabric, 2, PARAMS);
    let out = client.register(64, Access::NONE).unwrap();
    let inbox = server.register(64, Access::LOCAL_WRITE).unwrap();
    client.post_send(send(1, sge(&out, 0, 8), true)).unwrap();
    client.post_send(send(2, sge(&out, 8, 8), false)).unwrap();
    // No receive posted: two retries, then the error.
    let got = completions(&client, 2);
    assert_eq!(
        (got[0].wr_id, got[0].status),
        (1, WcStatus::RnrRetryExceeded)
    );
    assert_eq!(
        (got[1].wr_id, got[1].status),
        (2, WcStatus::WrFlush),
        "later work is flushed"
    );
    assert_eq!(client.state(), QpState::Error);
    assert_eq!(server.state(), QpState::Disconnected);
    // Work posted on a broken queue pair completes flushed at once.
    server
        .post_recv(RecvWr {
            wr_id: 5,
            sge: Some(sge(&inbox, 0, 64)),
        })
        .unwrap();
    assert_eq!(completions(&server, 1)[0].status, WcStatus::WrFlush);
    for (qp, region) in [(&client, &out), (&server, &inbox)] {
        qp.deregister(region).unwrap();
    }
    assert_eq!(fabric.registered_regions(), 0);
}

#[test]
fn a_write_with_a_wrong_key_or_without_remote_access_is_a_remote_access_error() {
    for grant in [true, false] {
        let fabric = Fabric::new(3);
        let (client, server) = pair(&fabric, 3, PARAMS);
        let out = client.register(64, Access::NONE).unwrap();
        let access = if grant {
            Access::LOCAL_WRITE | Access::REMOTE_WRITE
        } else {
            Access::LOCAL_WRITE
        };
        let ring = server.register(64, access).unwrap();
        server
            .post_recv(RecvWr {
                wr_id: 7,
                sge: None,
            })
            .unwrap();
        let rkey = if grant { ring.rkey() ^ 1 } else { ring.rkey() };
        let wr = SendWr {
            wr_id: 1,
            sge: sge(&out, 0, 16),
            op: SendOp::WriteWithImm {
                remote_addr: ring.addr(),
                rkey,
                imm: 16,
            },
            signaled: true,
        };
        client.post_send(wr).unwrap();
        assert_eq!(completions(&client, 1)[0].status, WcStatus::RemoteAccess);
        assert_eq!(client.state(), QpState::Error);
        let flushed = completions(&server, 1);
        assert_eq!(
            (flushed[0].wr_id, flushed[0].status),
            (7, WcStatus::WrFlush)
        );
    }
}

#[test]
fn a_write_past_the_end_of_the_remote_region_is_refused() {
    let fabric = Fabric::new(4);
    let (client, server) = pair(&fabric, 4, PARAMS);
    let out = client.register(64, Access::NONE).unwrap();
    let ring = server
        .register(32, Access::LOCAL_WRITE | Access::REMOTE_WRITE)
        .unwrap();
    server
        .post_recv(RecvWr {
            wr_id: 7,
            sge: None,
        })
        .unwrap();
    let wr = SendWr {
        wr_id: 1,
        sge: sge(&out, 0, 16),
        op: SendOp::WriteWithImm {
            remote_addr: ring.addr() + 20,
            rkey: ring.rkey(),
            imm: 16,
        },
        signaled: true,
    };
    client.post_send(wr).unwrap();
    assert_eq!(completions(&client, 1)[0].status, WcStatus::RemoteAccess);
}

#[test]
fn a_write_with_immediate_consumes_a_receive_and_carries_the_immediate() {
    let fabric = Fabric::new(5);
    let (client, server) = pair(&fabric, 5, PARAMS);
    let out = client.register(64, Access::NONE).unwrap();
    let ring = server
        .register(64, Access::LOCAL_WRITE | Access::REMOTE_WRITE)
        .unwrap();
    server
        .post_recv(RecvWr {
            wr_id: 7,
            sge: None,
        })
        .unwrap();
    out.write(0, b"written");
    let wr = SendWr {
        wr_id: 1,
        sge: sge(&out, 0, 7),
        op: SendOp::WriteWithImm {
            remote_addr: ring.addr() + 50,
            rkey: ring.rkey(),
            imm: 0xabc,
        },
        signaled: true,
    };
    client.post_send(wr).unwrap();
    let got = completions(&server, 1)[0];
    assert_eq!(
        (got.wr_id, got.opcode, got.imm),
        (7, WcOpcode::RecvRdmaWithImm, Some(0xabc))
    );
    let mut bytes = [0u8; 7];
    ring.read(50, &mut bytes);
    assert_eq!(&bytes, b"written");
}

#[test]
fn a_send_longer_than_the_receive_fails_on_both_sides() {
    let fabric = Fabric::new(6);
    let (client, server) = pair(&fabric, 6, PARAMS);
    let out = client.register(64, Access::NONE).unwrap();
    let inbox = server.register(64, Access::LOCAL_WRITE).unwrap();
    server
        .post_recv(RecvWr {
            wr_id: 9,
            sge: Some(sge(&inbox, 0, 8)),
        })
        .unwrap();
    client.post_send(send(1, sge(&out, 0, 9), true)).unwrap();
    assert_eq!(
        completions(&client, 1)[0].status,
        WcStatus::RemoteInvalidRequest
    );
    assert_eq!(completions(&server, 1)[0].status, WcStatus::LocalLength);
}

#[test]
fn deregistering_memory_with_work_outstanding_is_refused() {
    let fabric = Fabric::new(7);
    let (_client, server) = pair(&fabric, 7, PARAMS);
    let inbox = server.register(64, Access::LOCAL_WRITE).unwrap();
    server
        .post_recv(RecvWr {
            wr_id: 1,
            sge: Some(sge(&inbox, 0, 64)),
        })
        .unwrap();
    assert_eq!(
        server.deregister(&inbox),
        Err(VerbsError::RegionBusy(inbox.lkey()))
    );
    server.disconnect();
    assert_eq!(completions(&server, 1)[0].status, WcStatus::WrFlush);
    server.deregister(&inbox).unwrap();
    assert_eq!(
        server.deregister(&inbox),
        Err(VerbsError::UnknownRegion(inbox.lkey()))
    );
}

#[test]
fn a_local_range_outside_its_region_is_a_protection_error() {
    let fabric = Fabric::new(8);
    let (client, server) = pair(&fabric, 8, PARAMS);
    let out = client.register(16, Access::NONE).unwrap();
    let inbox = server.register(64, Access::LOCAL_WRITE).unwrap();
    server
        .post_recv(RecvWr {
            wr_id: 1,
            sge: Some(sge(&inbox, 0, 64)),
        })
        .unwrap();
    client.post_send(send(1, sge(&out, 8, 16), true)).unwrap();
    assert_eq!(completions(&client, 1)[0].status, WcStatus::LocalProtection);
}

#[test]
fn unsignalled_sends_hold_their_slots_until_a_signalled_one_completes() {
    let fabric = Fabric::new(9);
    let (client, server) = pair(&fabric, 9, PARAMS);
    let out = client.register(64, Access::NONE).unwrap();
    let inbox = server.register(64 * 8, Access::LOCAL_WRITE).unwrap();
    for i in 0..4 {
        server
            .post_recv(RecvWr {
                wr_id: i,
                sge: Some(sge(&inbox, i * 64, 64)),
            })
            .unwrap();
    }
    for i in 0..4 {
        client.post_send(send(i, sge(&out, 0, 4), false)).unwrap();
    }
    assert_eq!(
        client.post_send(send(9, sge(&out, 0, 4), true)),
        Err(VerbsError::SendQueueFull(4)),
        "four unsignalled sends fill a queue of four"
    );
    assert_eq!(completions(&server, 4).len(), 4);
    let mut none = Vec::new();
    assert_eq!(
        client.poll_cq(&mut none, 8),
        0,
        "unsignalled sends complete silently"
    );
    for i in 4..8 {
        server
            .post_recv(RecvWr {
                wr_id: i,
                sge: Some(sge(&inbox, i * 64, 64)),
            })
            .unwrap();
    }
    // Still full: slots come back only with a signalled completion.
    assert!(client.post_send(send(10, sge(&out, 0, 4), true)).is_err());
}

#[test]
fn a_stream_to_a_peer_that_never_posts_receives_fails_cleanly() {
    let fabric = Fabric::new(10);
    let at = SocketAddr::from(([10, 0, 0, 9], 10));
    let listener = fabric.listen(at).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = ChannelConfig {
        rnr_retry: 3,
        ..ChannelConfig::default()
    };
    // The raw peer accepts the connection request as soon as it is made, then posts nothing.
    let accepting = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(Instant::now() < deadline);
            if let Some(qp) = listener.accept(PARAMS, &mut |_| Ok(())).unwrap() {
                return (qp, listener);
            }
            std::thread::yield_now();
        }
    });
    let err = runtime
        .block_on(AsyncRdmaStream::connect(&fabric, at, config))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted, "{err}");
    let (peer, _listener) = accepting.join().unwrap();
    assert_eq!(peer.state(), QpState::Disconnected);
    assert_eq!(
        fabric.registered_regions(),
        0,
        "the failed stream deregistered its memory"
    );
}
