//! The CRC-64/NVME unit against software (crc-fast and the independent `crc` crate): every
//! length up to several KiB, every tail, 1 MiB frames, back-to-back frames, reset mid-frame,
//! exact pass-through, and throughput in cycles — each crossed with random idle cycles and
//! random backpressure, at every data width.

use lzcache_sim::axis::{frame_to_beats, lanes, run, Rng};
use lzcache_sim::{Beat, Dut, Traffic};

const WIDTHS: [usize; 4] = [64, 128, 256, 512];

fn model(width: usize) -> Dut {
    let mut dut = Dut::new(&format!("crc64_nvme_w{width}")).expect("model is compiled in");
    dut.reset(4);
    dut
}

fn reference(data: &[u8]) -> u64 {
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_NVME).checksum(data);
    assert_eq!(
        crc,
        crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data),
        "software CRCs disagree"
    );
    crc
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Streams `frames` back to back and checks pass-through and every frame's CRC.
fn check_frames(dut: &mut Dut, frames: &[Vec<u8>], traffic: &Traffic) -> u64 {
    let beat_bytes = dut.beat_bytes();
    let input: Vec<Beat> = frames
        .iter()
        .flat_map(|f| frame_to_beats(f, beat_bytes))
        .collect();
    let total_beats = input.len();
    let budget = 20 * total_beats as u64 + 1000;
    let result = run(dut, input.clone(), total_beats, traffic, budget);
    let mut frame_index = 0;
    let mut frame_bytes = Vec::new();
    for (i, (got, sent)) in result.output.iter().zip(&input).enumerate() {
        // Data, keep and last pass through bit for bit.
        assert_eq!(
            (&got.data, got.keep, got.last),
            (&sent.data, sent.keep, sent.last),
            "{}: beat {i} changed in passing; {traffic}",
            dut.name()
        );
        for lane in 0..beat_bytes {
            if got.keep >> lane & 1 == 1 {
                frame_bytes.push(got.data[lane]);
            }
        }
        if got.last {
            let frame = &frames[frame_index];
            assert_eq!(&frame_bytes, frame);
            assert_eq!(
                got.user,
                u128::from(reference(frame)),
                "{}: CRC of frame {frame_index} ({} bytes); {traffic}",
                dut.name(),
                frame.len()
            );
            frame_index += 1;
            frame_bytes.clear();
        }
    }
    assert_eq!(frame_index, frames.len());
    result.cycles
}

#[test]
fn check_value_at_every_width() {
    for width in WIDTHS {
        let mut dut = model(width);
        for traffic in Traffic::matrix(1) {
            check_frames(&mut dut, &[b"123456789".to_vec()], &traffic);
        }
        assert_eq!(reference(b"123456789"), 0xAE8B_1486_0A79_9888);
    }
}

#[test]
fn every_length_up_to_4_kib_back_to_back() {
    // Includes every tail length 1..=64 many times over, and the empty frame.
    let frames: Vec<Vec<u8>> = (0..=4096).map(|len| pattern(len, len as u64)).collect();
    let mut dut = model(512);
    for traffic in Traffic::matrix(2) {
        check_frames(&mut dut, &frames, &traffic);
    }
}

#[test]
fn narrow_widths_on_every_length_up_to_1_kib() {
    let frames: Vec<Vec<u8>> = (0..=1024).map(|len| pattern(len, 7 * len as u64)).collect();
    for width in [64, 128, 256] {
        let mut dut = model(width);
        for traffic in Traffic::matrix(3) {
            check_frames(&mut dut, &frames, &traffic);
        }
    }
}

#[test]
fn one_mebibyte_frames() {
    let frames = vec![
        pattern(1 << 20, 11),
        vec![0u8; 1 << 20],
        pattern((1 << 20) - 37, 12),
    ];
    let mut dut = model(512);
    for traffic in Traffic::matrix(4) {
        check_frames(&mut dut, &frames, &traffic);
    }
    let mut narrow = model(64);
    check_frames(&mut narrow, &frames[..1], &Traffic::matrix(5)[3]);
}

#[test]
fn throughput_on_a_one_mebibyte_frame_is_at_least_63_bytes_per_cycle() {
    let frame = pattern(1 << 20, 13);
    let mut dut = model(512);
    let cycles = check_frames(&mut dut, &[frame], &Traffic::FULL_RATE);
    let bytes_per_cycle = (1u64 << 20) as f64 / cycles as f64;
    eprintln!("crc64_nvme_w512: 1 MiB in {cycles} cycles = {bytes_per_cycle:.3} bytes/cycle");
    assert!(bytes_per_cycle >= 63.0, "{bytes_per_cycle} bytes/cycle");
    // Back-to-back frames keep the rate: no bubble between them, only the pipeline's latency
    // (log2(64) + 3 cycles at 64 bytes per beat: the update, one rewind stage per pad bit,
    // the output register) once.
    let frames: Vec<Vec<u8>> = (0..64).map(|i| pattern(4096, i)).collect();
    let cycles = check_frames(&mut dut, &frames, &Traffic::FULL_RATE);
    const LATENCY_W512: u64 = 6 + 3;
    assert!(
        cycles <= 64 * 64 + LATENCY_W512,
        "{cycles} cycles for 4096 full beats"
    );
}

#[test]
fn reset_in_the_middle_of_a_frame() {
    for width in WIDTHS {
        let mut dut = model(width);
        for traffic in Traffic::matrix(6) {
            // Half a frame goes in, then reset; the next frame must not inherit any state.
            let beats = frame_to_beats(&pattern(1000, 21), dut.beat_bytes());
            let mut rng = Rng::new(traffic.seed);
            let mut sent = 0;
            while sent < beats.len() / 2 {
                let ready = !rng.chance(traffic.stall_percent);
                if dut.cycle(Some(&beats[sent]), ready).input_ready {
                    sent += 1;
                }
            }
            dut.reset(2);
            // Nothing from before the reset comes out.
            for _ in 0..8 {
                assert!(dut.cycle(None, true).output.is_none(), "output after reset");
            }
            check_frames(
                &mut dut,
                &[pattern(777, 22), b"123456789".to_vec()],
                &traffic,
            );
        }
    }
}

#[test]
fn last_beat_may_be_empty_or_full() {
    let mut dut = model(512);
    // A frame whose last beat keeps no bytes: the CRC covers the earlier beats only.
    let data = pattern(128, 30);
    let mut beats = frame_to_beats(&data, 64);
    beats[1].last = false;
    beats.push(Beat {
        data: vec![0; 64],
        keep: 0,
        last: true,
        user: 0,
    });
    let out = run(&mut dut, beats, 3, &Traffic::matrix(7)[3], 1000);
    assert_eq!(out.output[2].user, u128::from(reference(&data)));
    assert_eq!(lanes(64), u64::MAX);
}

#[test]
fn waveforms_open_and_close_on_demand() {
    let dir = std::env::temp_dir().join(format!("lzcache-sim-trace-{}", std::process::id()));
    let path = dir.join("crc64.vcd");
    let mut dut = model(64);
    dut.tick(3);
    dut.open_trace(&path, 0, 1000).expect("trace opens");
    check_frames(&mut dut, &[b"123456789".to_vec()], &Traffic::FULL_RATE);
    dut.close_trace();
    let vcd = std::fs::read_to_string(&path).expect("trace written");
    assert!(vcd.contains("$enddefinitions"), "a VCD header");
    assert!(vcd.contains("s_axis_tvalid"), "stream signals are traced");
    assert!(dut.trace_path().is_none());
    let _ = std::fs::remove_dir_all(dir);
}

/// Models built without waveform support (all but the checksum models, unless the crate was
/// built with `LZCACHE_SIM_TRACE=1`) refuse a trace with an error that says how to get one.
#[test]
fn models_without_waveform_support_say_so() {
    let traced_all = option_env!("LZCACHE_SIM_TRACE").is_some_and(|v| !v.is_empty() && v != "0");
    let dir = std::env::temp_dir().join(format!("lzcache-sim-untraced-{}", std::process::id()));
    let path = dir.join("lz4_compress_small.vcd");
    let mut dut = lzcache_sim::Dut::new("lz4_compress_small").expect("model");
    match dut.open_trace(&path, 0, 10) {
        Ok(()) => {
            assert!(
                traced_all,
                "only an LZCACHE_SIM_TRACE=1 build traces every model"
            );
            dut.close_trace();
            assert!(path.exists());
        }
        Err(err) => {
            assert!(!traced_all, "{err}");
            assert!(
                matches!(err, lzcache_sim::SimError::TraceNotBuilt(ref name) if name == "lz4_compress_small")
            );
            assert!(err.to_string().contains("LZCACHE_SIM_TRACE=1"));
            assert!(dut.trace_path().is_none());
            assert!(!path.exists());
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
