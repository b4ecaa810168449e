//! Writes a CSV of made-up contacts, in the columns of a Google Contacts export, for the
//! import benchmark (`bench/import-contacts.sh`). Same seed, same file, on any machine.
//!
//! ```sh
//! cargo run --release -p threadline-server --example gen_contacts_csv -- --rows 100000 --seed 42 > contacts.csv
//! ```
//!
//! Of every 1,000 rows about 25 have a broken address (rejected), 20 repeat an earlier
//! row's address (skipped), 300 are at a free-mail domain (no company), and the rest work
//! at one of 2,000 companies; a third have a second address, most a phone, some notes with
//! commas, quotes and a line break.

use std::collections::VecDeque;

/// SplitMix64: a tiny, well-known generator, written out here so that the file depends on
/// the seed alone (a library's generator may change its output between versions).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 0 ≤ n < `bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Ann", "Bob", "Carla", "Dan", "Eve", "Femke", "Gus", "Hana", "Ivan", "Jonas", "Kemal", "Lea",
    "Marta", "Noor", "Olaf", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera", "Wim", "Xu",
    "Yara", "Zoë", "José", "Åsa", "Łukasz", "Chloé",
];
const LAST: &[&str] = &[
    "Lee",
    "Stone",
    "Diaz",
    "Ek",
    "Jansen",
    "de Vries",
    "Müller",
    "Kobayashi",
    "Novak",
    "Smith",
    "O'Brien",
    "García",
    "Nowak",
    "Rossi",
    "Dubois",
    "Andersson",
    "Yılmaz",
    "Khan",
    "Silva",
    "Peeters",
];
const WORDS: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "vandelay",
    "stark",
    "wayne",
    "tyrell",
    "cyberdyne",
    "soylent",
    "wonka",
    "aperture",
    "gringotts",
    "oscorp",
    "duff",
    "monarch",
    "nakatomi",
    "virtucon",
    "zorg",
];
const SUFFIXES: &[&str] = &["com", "nl", "de", "co.uk", "io", "be", "fr"];
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.fr",
    "hotmail.com",
    "web.de",
];
const TITLES: &[&str] = &[
    "",
    "CEO",
    "Head of Sales",
    "Engineer",
    "Buyer",
    "Office Manager",
    "CFO",
];

fn main() {
    let mut rows: u64 = 100_000;
    let mut seed: u64 = 42;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--rows", Some(v)) => rows = v,
            ("--seed", Some(v)) => seed = v,
            _ => {
                eprintln!("usage: gen_contacts_csv [--rows N] [--seed S] > contacts.csv");
                std::process::exit(2);
            }
        }
    }
    let mut rng = SplitMix64(seed);
    // The last rows' addresses, for repeats (bounded: the generator streams too).
    let mut recent: VecDeque<String> = VecDeque::with_capacity(100);
    let stdout = std::io::stdout();
    let mut out =
        csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, stdout.lock()));
    out.write_record([
        "First Name",
        "Middle Name",
        "Last Name",
        "Organization Name",
        "Organization Title",
        "Notes",
        "Labels",
        "E-mail 1 - Label",
        "E-mail 1 - Value",
        "E-mail 2 - Label",
        "E-mail 2 - Value",
        "Phone 1 - Label",
        "Phone 1 - Value",
    ])
    .expect("write the header");
    for i in 0..rows {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let local: String = format!("{first}.{last}.{i}")
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let roll = rng.below(1000);
        let (company, address) = if roll < 300 {
            (String::new(), format!("{local}@{}", rng.pick(FREE_MAIL)))
        } else {
            let n = rng.below(2000);
            let word = WORDS[(n % WORDS.len() as u64) as usize];
            let suffix = SUFFIXES[(n / WORDS.len() as u64 % SUFFIXES.len() as u64) as usize];
            let domain = format!("{word}{n}.{suffix}");
            (
                format!(
                    "{}{n} {}",
                    word[..1].to_uppercase() + &word[1..],
                    rng.pick(&["BV", "GmbH", "Ltd", "Inc."])
                ),
                format!("{local}@{domain}"),
            )
        };
        let address = match rng.below(1000) {
            // A broken address: rejected.
            0..25 => format!("{local}@"),
            // One of the last 100 rows' addresses, in capitals: skipped.
            25..45 if !recent.is_empty() => {
                recent[rng.below(recent.len() as u64) as usize].to_uppercase()
            }
            _ => address,
        };
        if recent.len() == 100 {
            recent.pop_front();
        }
        recent.push_back(address.clone());
        let second = if rng.below(3) == 0 {
            format!("{local}@{}", rng.pick(FREE_MAIL))
        } else {
            String::new()
        };
        let phone = if rng.below(10) < 7 {
            format!("+31 6 {:04} {:04}", rng.below(10_000), rng.below(10_000))
        } else {
            String::new()
        };
        let notes = match rng.below(10) {
            0 => "Met at the \"Spring Fair\", hall 3.\nCall back in May.".to_string(),
            1 => "Prefers email, not phone".to_string(),
            _ => String::new(),
        };
        out.write_record([
            first,
            "",
            last,
            &company,
            rng.pick(TITLES),
            &notes,
            "* myContacts",
            "* Work",
            &address,
            if second.is_empty() { "" } else { "Home" },
            &second,
            if phone.is_empty() { "" } else { "Mobile" },
            &phone,
        ])
        .expect("write a row");
    }
    out.flush().expect("flush");
}
