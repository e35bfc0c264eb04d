//! The dictionary policy: training, adoption on held-out samples, versions, retirement.

use super::*;
use lzcache_driver::dict::json_records;

fn settings(size: usize) -> DictSettings {
    DictSettings {
        size,
        // No grace before retiring, and any training is due once the sample is full.
        retrain_interval: Duration::ZERO,
        ..DictSettings::default()
    }
}

fn fill(dicts: &Dictionaries, records: &[Vec<u8>]) {
    for r in records {
        dicts.offer(r);
    }
}

/// Records of another shape: a second workload the first dictionary knows nothing of.
fn other_records(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                "<order><no>{}</no><sku>SKU-{:05}</sku><qty>{}</qty><warehouse>north-{}</warehouse><carrier>parcelforce</carrier><status>dispatched</status><eta>2027-01-{:02}</eta></order>",
                i * 7919,
                (i * 31) % 99_991,
                i % 9,
                i % 4,
                1 + i % 28
            )
            .into_bytes()
        })
        .collect()
}

const NO_ITEMS: [usize; DICT_SLOTS] = [0; DICT_SLOTS];

/// Dictionaries of 4 KiB that trained and adopted their first one (id 1) on generated records.
fn with_first_dictionary(seed: u64) -> Dictionaries {
    let dicts = Dictionaries::new(settings(4 << 10), 64, 64 << 20);
    fill(&dicts, &json_records(12_000, seed));
    assert!(matches!(
        dicts.train_now(NO_ITEMS),
        Trained::Adopted { id: 1, .. }
    ));
    dicts
}

#[test]
fn a_full_sample_trains_a_dictionary_adopted_on_held_out_gain() {
    let dicts = Dictionaries::new(settings(8 << 10), 64, 64 << 20);
    assert!(dicts.for_value(300).is_none() && !dicts.training_due());
    fill(&dicts, &json_records(20_000, 1));
    assert!(dicts.training_due());
    let Trained::Adopted { id, eval } = dicts.train_now(NO_ITEMS) else {
        panic!("not adopted");
    };
    assert_eq!(id, 1);
    // The held-out records: plain LZ4 barely gains, the dictionary at least doubles it.
    assert!(eval.plain * 10 > eval.raw * 8, "{eval:?}");
    assert!(eval.candidate * 2 < eval.raw, "{eval:?}");
    let dict = dicts.for_value(300).expect("active");
    assert_eq!(dict.id(), 1);
    assert!(dicts.for_value(DICT_VALUE_MAX + 1).is_none());
    assert_eq!(dicts.get(1).map(|d| d.id()), Some(1));
    // The same workload again: no better by the margin, so the current one stays.
    fill(&dicts, &json_records(20_000, 2));
    assert!(matches!(
        dicts.train_now(NO_ITEMS),
        Trained::Rejected { .. }
    ));
    assert_eq!(dicts.for_value(300).map(|d| d.id()), Some(1));
}

#[test]
fn old_dictionaries_stay_while_values_name_them() {
    let dicts = with_first_dictionary(3);
    // The workload changes: a new dictionary wins and becomes active; the old one is kept for
    // the 5 items that still name it.
    fill(&dicts, &other_records(12_000));
    let mut items = NO_ITEMS;
    items[crate::store::dict_slot(1)] = 5;
    assert!(matches!(
        dicts.train_now(items),
        Trained::Adopted { id: 2, .. }
    ));
    assert_eq!(dicts.for_value(200).map(|d| d.id()), Some(2));
    assert!(dicts.get(1).is_some() && dicts.get(2).is_some());
    dicts.retire_unused(items);
    assert!(dicts.get(1).is_some());
    // Once none does, it goes; the active one never does.
    dicts.retire_unused(NO_ITEMS);
    assert!(dicts.get(1).is_none() && dicts.get(2).is_some());
}

#[test]
fn a_new_id_waits_for_its_counting_slot() {
    let dicts = Dictionaries::new(settings(4 << 10), 64, 64 << 20);
    fill(&dicts, &json_records(12_000, 4));
    let mut items = NO_ITEMS;
    // Values of a dictionary from before (its id shares slot 1) are still stored.
    items[crate::store::dict_slot(1)] = 1;
    assert!(matches!(dicts.train_now(items), Trained::Deferred { .. }));
    assert!(dicts.for_value(300).is_none());
}

#[test]
fn incompressible_samples_train_nothing_that_is_adopted() {
    let dicts = Dictionaries::new(settings(4 << 10), 64, 64 << 20);
    let mut x = 9u64;
    let noise: Vec<Vec<u8>> = (0..8000)
        .map(|_| {
            (0..200)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect();
    fill(&dicts, &noise);
    let outcome = dicts.train_now(NO_ITEMS);
    assert!(
        matches!(outcome, Trained::Rejected { .. } | Trained::Failed(_)),
        "{outcome:?}"
    );
    assert!(dicts.for_value(200).is_none());
}

#[test]
fn dictionaries_survive_a_file_and_keep_their_ids() {
    let dicts = with_first_dictionary(5);
    let bytes = file::encode(&dicts.saved());
    let restarted = Dictionaries::new(settings(4 << 10), 64, 64 << 20);
    restarted.restore(file::decode(&bytes).unwrap()).unwrap();
    // The same file again changes nothing; another dictionary under a held id is refused.
    restarted.restore(file::decode(&bytes).unwrap()).unwrap();
    let clash = file::Saved {
        active: 1,
        next_id: 2,
        dicts: vec![Arc::new(
            Dictionary::new(1, b"other content".to_vec()).unwrap(),
        )],
    };
    assert!(restarted.restore(clash).is_err());
    let (a, b) = (dicts.get(1).unwrap(), restarted.get(1).unwrap());
    assert_eq!(a.content(), b.content());
    assert_eq!(restarted.for_value(300).map(|d| d.id()), Some(1));
    // The next one trained after a restart gets a fresh id.
    fill(&restarted, &other_records(12_000));
    assert!(matches!(
        restarted.train_now(NO_ITEMS),
        Trained::Adopted { id: 2, .. }
    ));
}

#[test]
fn off_or_in_a_small_cache_nothing_is_sampled_or_charged() {
    let off = Dictionaries::new(
        DictSettings {
            enabled: false,
            ..settings(16 << 10)
        },
        64,
        64 << 20,
    );
    let small = Dictionaries::new(settings(16 << 10), 64, 4 << 20);
    for dicts in [off, small] {
        fill(&dicts, &json_records(20_000, 6));
        assert!(!dicts.enabled() && !dicts.training_due());
        assert_eq!(dicts.memory_bytes(), 0);
        assert!(dicts.for_value(300).is_none());
    }
}

/// Retraining: not before a twentieth of the interval, then when the ratio of the values
/// compressed with the active dictionary decays below 85 % of its held-out one, or once the
/// interval passes while the ratio holds.
#[test]
fn retraining_waits_for_decay_or_the_interval() {
    let interval = Duration::from_secs(600);
    let window = DECAY_WINDOW_BYTES as usize;
    for decays in [true, false] {
        let dicts = Dictionaries::new(
            DictSettings {
                retrain_interval: interval,
                ..settings(4 << 10)
            },
            64,
            64 << 20,
        );
        fill(&dicts, &json_records(12_000, 4));
        assert!(dicts.training_due(), "no dictionary yet");
        let Trained::Adopted { eval, .. } = dicts.train_now(NO_ITEMS) else {
            panic!("not adopted");
        };
        fill(&dicts, &json_records(12_000, 5));
        // Values compress as promised on the held-out sample.
        let promised = window * eval.candidate / eval.raw;
        dicts.note_compressed(window, promised);
        assert!(!dicts.training_due(), "too soon after a training");
        dicts.advance(interval / 20);
        assert!(!dicts.training_due(), "the ratio holds");
        if decays {
            // Far worse now: raw / held falls below 85 % of the promise.
            dicts.note_compressed(window, promised * 2);
            assert!(dicts.training_due(), "the ratio decayed");
        } else {
            dicts.note_compressed(window, promised);
            dicts.advance(interval / 2);
            assert!(!dicts.training_due(), "the ratio holds");
            dicts.advance(interval / 2);
            assert!(dicts.training_due(), "the interval passed");
        }
    }
}
