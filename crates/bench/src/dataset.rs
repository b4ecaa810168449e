//! The benchmark's data, as a pure function of a seed: company `i` and contact `i` are the
//! same on every run and every machine, so the load generator can name existing addresses
//! (hits) and addresses that cannot exist (misses) without reading the database.
//!
//! Each record has its own random stream (ChaCha8, stream = kind and index), so records can
//! be made in any order, in parallel or one by one, with the same result.
//!
//! The mix (per contact, on average): 85 % work at a company (primary address on its
//! domain), the others have a free-mail primary; 60 % have one address, 30 % two, 10 %
//! three (extra addresses: free-mail, a subdomain of the company, or an earlier employer).
//! Every 500th contact shares an address with the one before it (the lookup answers
//! `ambiguous`), every 200th is deleted (a tombstone the lookup must skip).

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

/// How much data, from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dataset {
    pub seed: u64,
    pub contacts: u64,
    pub companies: u64,
}

/// A company as stored (`companies` + its one `company_domains` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    pub id: Uuid,
    pub name: String,
    /// Registrable domain, lowercase ASCII (`northlabs-1k.co.uk`).
    pub domain: String,
    pub created_at: DateTime<Utc>,
}

/// A contact as stored (`contacts` + its `contact_emails` rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    /// Index of its company, if any.
    pub company: Option<u64>,
    pub job_title: Option<String>,
    /// Normalised addresses, primary first, distinct by match key.
    pub emails: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Soft-deleted a day after it was created.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Contact {
    /// The row's version: 1, or 2 for a tombstone (the delete was a write).
    pub fn version(&self) -> i64 {
        if self.deleted_at.is_some() {
            2
        } else {
            1
        }
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.deleted_at.unwrap_or(self.created_at)
    }
}

const FIRST_NAMES: &[&str] = &[
    "ann", "bob", "carla", "david", "emma", "farid", "greta", "hugo", "ines", "jan", "kim", "lena",
    "marco", "nina", "oscar", "paula", "quentin", "rosa", "sven", "tara", "umar", "vera", "wim",
    "xenia", "yusuf", "zoe", "amir", "bram", "chloe", "dirk", "elif", "finn", "gina", "hanna",
    "ivan", "julia", "karim", "lotte", "milan", "noor", "olga", "pieter", "ruth", "sara", "tom",
    "ulla", "victor", "wendy", "yara", "zeno",
];
const LAST_NAMES: &[&str] = &[
    "lee",
    "smith",
    "jansen",
    "devries",
    "muller",
    "schmidt",
    "rossi",
    "garcia",
    "martin",
    "bernard",
    "dubois",
    "peeters",
    "nowak",
    "kowalski",
    "novak",
    "horvat",
    "silva",
    "santos",
    "johnson",
    "brown",
    "wilson",
    "taylor",
    "clarke",
    "walker",
    "wright",
    "bakker",
    "visser",
    "smit",
    "meyer",
    "weber",
    "wagner",
    "becker",
    "hoffmann",
    "koch",
    "richter",
    "klein",
    "wolf",
    "neumann",
    "schwarz",
    "zimmermann",
    "lopez",
    "gonzalez",
    "perez",
    "sanchez",
    "ramirez",
    "torres",
    "flores",
    "rivera",
    "gomez",
    "diaz",
];
const NAME_PARTS: &[&str] = &[
    "north", "blue", "silver", "bright", "green", "nova", "delta", "summit", "river", "oak",
    "stone", "iron", "cloud", "harbor", "pine", "sun", "atlas", "orbit", "maple", "falcon",
];
const NAME_KINDS: &[&str] = &[
    "labs",
    "works",
    "logistics",
    "foods",
    "systems",
    "media",
    "partners",
    "energy",
    "health",
    "robotics",
    "capital",
    "design",
    "legal",
    "motors",
    "textiles",
    "analytics",
];
const LEGAL_FORMS: &[&str] = &["", " Ltd", " GmbH", " B.V.", " Inc.", " SAS", " NV"];
/// Top-level parts of company domains, with their weight (of 100).
const TLDS: &[(&str, u32)] = &[
    ("com", 50),
    ("co.uk", 10),
    ("de", 10),
    ("nl", 8),
    ("io", 7),
    ("fr", 5),
    ("com.au", 5),
    ("be", 5),
];
/// Consumer mailboxes (all on `threadline_domain::company`'s free-mail list).
pub const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "hotmail.com",
    "gmx.de",
    "icloud.com",
    "web.de",
    "proton.me",
];
const JOB_TITLES: &[&str] = &[
    "Account Manager",
    "Head of Sales",
    "CTO",
    "Buyer",
    "Office Manager",
    "Engineer",
    "Founder",
];

/// Where the generated timeline starts: companies from here, contacts a year later.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// Records are created this far apart (so that ids, UUIDv7 of the creation time, are
/// distinct in their time part and in creation order, as the server makes them).
const STEP_MS: i64 = 10;

#[derive(Clone, Copy)]
enum Stream {
    Company = 1,
    Contact = 2,
}

impl Dataset {
    /// The random stream of one record.
    fn rng(&self, kind: Stream, index: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(((kind as u64) << 56) | index);
        rng
    }

    /// A UUIDv7 for a record created at `at`, its random bits from `rng`.
    fn id(at: DateTime<Utc>, rng: &mut ChaCha8Rng) -> Uuid {
        let random: [u8; 10] = rng.gen();
        uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis() as u64, &random).into_uuid()
    }

    pub fn company(&self, index: u64) -> Company {
        assert!(
            index < self.companies,
            "company {index} of {}",
            self.companies
        );
        let mut rng = self.rng(Stream::Company, index);
        let created_at = epoch() + Duration::milliseconds(index as i64 * STEP_MS);
        let id = Self::id(created_at, &mut rng);
        let part = NAME_PARTS[rng.gen_range(0..NAME_PARTS.len())];
        let kind = NAME_KINDS[rng.gen_range(0..NAME_KINDS.len())];
        let legal = LEGAL_FORMS[rng.gen_range(0..LEGAL_FORMS.len())];
        let mut roll = rng.gen_range(0..100);
        let tld = TLDS
            .iter()
            .find(|(_, weight)| {
                let hit = roll < *weight;
                roll = roll.saturating_sub(*weight);
                hit
            })
            .map_or("com", |(tld, _)| *tld);
        Company {
            id,
            name: format!(
                "{}{} {}{legal}",
                capitalise(part),
                kind,
                base36(index).to_uppercase()
            ),
            // The index makes the domain unique; the hyphen keeps it readable.
            domain: format!("{part}{kind}-{}.{tld}", base36(index)),
            created_at,
        }
    }

    pub fn contact(&self, index: u64) -> Contact {
        assert!(
            index < self.contacts,
            "contact {index} of {}",
            self.contacts
        );
        let mut rng = self.rng(Stream::Contact, index);
        let created_at =
            epoch() + Duration::days(365) + Duration::milliseconds(index as i64 * STEP_MS);
        let id = Self::id(created_at, &mut rng);
        let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
        let company = (self.companies > 0 && rng.gen_ratio(85, 100))
            .then(|| rng.gen_range(0..self.companies));
        let count = match rng.gen_range(0..10) {
            0..=5 => 1,
            6..=8 => 2,
            _ => 3,
        };
        // Names have no digits, so the trailing index makes every address unique to its
        // contact (also as a Gmail match key, which drops the dots).
        let free = |rng: &mut ChaCha8Rng, sep: &str| {
            let domain = FREE_MAIL[rng.gen_range(0..FREE_MAIL.len())];
            format!("{first}{sep}{last}{index}@{domain}")
        };
        let mut emails = vec![match company {
            Some(c) => format!("{first}.{last}{index}@{}", self.company(c).domain),
            None => free(&mut rng, "."),
        }];
        while emails.len() < count {
            let extra = match (rng.gen_range(0..3), company) {
                (1, Some(c)) => format!("{first}{index}@mail.{}", self.company(c).domain),
                (2, _) if self.companies > 0 => {
                    let earlier = rng.gen_range(0..self.companies);
                    format!("{}{index}@{}", &first[..1], self.company(earlier).domain)
                }
                _ => free(&mut rng, "_"),
            };
            if !emails.contains(&extra) {
                emails.push(extra);
            }
        }
        if index % 500 == 1 {
            // Shares the previous contact's primary address: the lookup answers `ambiguous`.
            let shared = self.contact(index - 1).emails.swap_remove(0);
            emails.push(shared);
        }
        let job_title = rng
            .gen_ratio(1, 3)
            .then(|| JOB_TITLES[rng.gen_range(0..JOB_TITLES.len())].to_string());
        Contact {
            id,
            first_name: capitalise(first),
            last_name: capitalise(last),
            company,
            job_title,
            emails,
            created_at,
            deleted_at: (index % 200 == 7).then(|| created_at + Duration::days(1)),
        }
    }

    /// A made-up address at company `company`'s domain that no contact has (the generator
    /// never writes `new.` local parts): an `unknown` with an existing company.
    pub fn unknown_at_company(&self, company: u64, nonce: u64) -> String {
        format!("new.{nonce}@{}", self.company(company).domain)
    }
}

/// A made-up free-mail address no contact has.
pub fn unknown_free_mail(nonce: u64) -> String {
    format!(
        "nobody.{nonce}@{}",
        FREE_MAIL[(nonce % FREE_MAIL.len() as u64) as usize]
    )
}

/// An address on a domain no company has (`.example` is reserved, so it is not anyone's).
pub fn unknown_domain(nonce: u64) -> String {
    format!("someone@prospect-{nonce}.example")
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use threadline_domain::address::EmailAddress;
    use threadline_domain::company::{derive_company, is_free_mail_domain};

    const DATA: Dataset = Dataset {
        seed: 7,
        contacts: 5_000,
        companies: 1_000,
    };

    #[test]
    fn the_same_seed_gives_the_same_records_in_any_order() {
        let forward: Vec<Contact> = (0..50).map(|i| DATA.contact(i)).collect();
        let backward: Vec<Contact> = (0..50).rev().map(|i| DATA.contact(i)).collect();
        assert!(forward.iter().eq(backward.iter().rev()));
        let other = Dataset { seed: 8, ..DATA };
        assert_ne!(DATA.contact(3), other.contact(3));
        assert_ne!(DATA.company(3).id, other.company(3).id);
    }

    #[test]
    fn addresses_are_normalised_and_distinct_per_contact_and_domains_registrable() {
        let mut keys = std::collections::HashMap::new();
        let mut free_primaries = 0;
        for i in 0..DATA.contacts {
            let contact = DATA.contact(i);
            assert!((1..=4).contains(&contact.emails.len()), "{contact:?}");
            let mut own = std::collections::HashSet::new();
            for email in &contact.emails {
                let parsed = EmailAddress::parse(email).expect(email);
                assert_eq!(&parsed.to_string(), email, "stored as the API normalises");
                assert!(own.insert(parsed.match_key()), "twice in {contact:?}");
                *keys.entry(parsed.match_key()).or_insert(0) += 1;
            }
            let primary = EmailAddress::parse(&contact.emails[0]).unwrap();
            free_primaries += usize::from(is_free_mail_domain(primary.domain()));
        }
        // Only the deliberately shared addresses are on two contacts.
        let shared = keys.values().filter(|n| **n > 1).count() as u64;
        assert_eq!(shared, DATA.contacts / 500);
        assert!((500..1_100).contains(&free_primaries), "{free_primaries}");
        for i in 0..DATA.companies {
            let company = DATA.company(i);
            let derived = derive_company(&company.domain).expect(&company.domain);
            assert_eq!(derived.domain, company.domain);
        }
    }

    #[test]
    fn made_up_misses_are_nobodys() {
        let taken: std::collections::HashSet<String> = (0..DATA.contacts)
            .flat_map(|i| DATA.contact(i).emails)
            .collect();
        for n in 0..200 {
            for miss in [
                DATA.unknown_at_company(n % DATA.companies, n),
                unknown_free_mail(n),
                unknown_domain(n),
            ] {
                let key = EmailAddress::parse(&miss).unwrap().match_key();
                assert!(!taken.contains(&key), "{miss}");
            }
        }
    }
}
