//! JSON-like records of 100–500 bytes, as a cache of user sessions or API responses holds: the
//! same field names and enums in every record, timestamps, ids, random tokens. Generated, for
//! tests and measurements of dictionaries (a dictionary learns the structure; the ids and
//! tokens stay incompressible, which makes it a hard case, not a flattering one).

/// `n` records from `seed`; the same seed gives the same records.
pub fn json_records(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = XorShift(seed | 1);
    (0..n).map(|_| record(&mut rng)).collect()
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

const STATES: &[&str] = &["active", "pending", "suspended", "deleted", "trial"];
const PLANS: &[&str] = &["free", "pro", "team", "enterprise"];
const COUNTRIES: &[&str] = &["DE", "FR", "US", "GB", "JP", "BR", "IN", "NL"];
const LOCALES: &[&str] = &["en-US", "de-DE", "fr-FR", "ja-JP", "pt-BR"];
const TAGS: &[&str] = &[
    "beta",
    "newsletter",
    "mobile",
    "desktop",
    "vip",
    "churn-risk",
    "api",
];
const FIRST: &[&str] = &[
    "anna", "ben", "chen", "dara", "emil", "fatima", "goro", "hana", "ivan",
];
const EVENTS: &[&str] = &["login", "logout", "purchase", "view", "search", "share"];

fn timestamp(rng: &mut XorShift) -> String {
    format!(
        "2026-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        1 + rng.below(12),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60)
    )
}

fn record(rng: &mut XorShift) -> Vec<u8> {
    let id = 100_000 + rng.below(9_900_000);
    let name = rng.pick(FIRST);
    let mut out = format!(
        r#"{{"id":{id},"username":"{name}{}","email":"{name}.{}@example.com","state":"{}","plan":"{}","created_at":"{}","updated_at":"{}","country":"{}","locale":"{}""#,
        rng.below(10_000),
        rng.below(1000),
        rng.pick(STATES),
        rng.pick(PLANS),
        timestamp(rng),
        timestamp(rng),
        rng.pick(COUNTRIES),
        rng.pick(LOCALES),
    );
    let tags = rng.below(4);
    if tags > 0 {
        let list: Vec<String> = (0..tags)
            .map(|_| format!("\"{}\"", rng.pick(TAGS)))
            .collect();
        out += &format!(r#","tags":[{}]"#, list.join(","));
    }
    if rng.below(2) == 0 {
        out += &format!(
            r#","last_event":{{"type":"{}","at":"{}","session":"{:016x}"}}"#,
            rng.pick(EVENTS),
            timestamp(rng),
            rng.next()
        );
    }
    if rng.below(3) == 0 {
        out += &format!(
            r#","settings":{{"theme":"{}","notifications":{},"two_factor":{}}}"#,
            if rng.below(2) == 0 { "dark" } else { "light" },
            rng.below(2) == 0,
            rng.below(2) == 0
        );
    }
    out += &format!(
        r#","score":{}.{:02},"token":"{:016x}"}}"#,
        rng.below(1000),
        rng.below(100),
        rng.next()
    );
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    #[test]
    fn records_are_100_to_500_bytes_and_replay() {
        let a = super::json_records(2000, 42);
        assert_eq!(a, super::json_records(2000, 42));
        let (min, max) = a.iter().fold((usize::MAX, 0), |(lo, hi), r| {
            (lo.min(r.len()), hi.max(r.len()))
        });
        assert!(min >= 100 && max <= 500, "{min}..{max}");
    }
}
