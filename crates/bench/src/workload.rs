//! The lookup requests: seeded batches of addresses, like the people of a Gmail thread.
//!
//! Of every 20 addresses: 1 is one of the user's own (`own`), 11 are existing contacts'
//! addresses (`known`; a few `ambiguous`, a few of deleted contacts, so `unknown`), 4 are
//! new people at existing companies (`unknown` with the company found by domain), 2 new
//! free-mail addresses and 2 on domains no company has. A quarter of the hits are written
//! with a capital first letter (the server normalises them). Order within a batch is
//! shuffled.

use std::collections::BTreeSet;

use bytes::Bytes;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use threadline_domain::address::EmailAddress;
use threadline_domain::api::LookupRequest;
use threadline_domain::company::derive_company;
use threadline_domain::matching;

use crate::dataset::{unknown_domain, unknown_free_mail, Dataset};
use crate::seed::OWNER_ALIAS;

/// One request, ready to send over HTTP or to run as raw SQL.
#[derive(Debug, Clone)]
pub struct Batch {
    pub addresses: Vec<String>,
    /// The JSON body of `POST /api/v1/lookup`, serialised before the run.
    pub body: Bytes,
    /// What the endpoint searches `contact_emails` for (`matching::lookup_keys`).
    pub keys: Vec<String>,
    /// What it searches `company_domains` for (registrable, non-free-mail domains).
    pub domains: Vec<String>,
}

impl Batch {
    pub fn new(addresses: Vec<String>) -> Batch {
        let keys = matching::lookup_keys(&addresses);
        let domains: BTreeSet<String> = addresses
            .iter()
            .filter_map(|a| EmailAddress::parse(a).ok())
            .filter_map(|a| derive_company(a.domain()))
            .map(|d| d.domain)
            .collect();
        let body = serde_json::to_vec(&LookupRequest {
            addresses: addresses.clone(),
        })
        .expect("a lookup request serialises");
        Batch {
            addresses,
            body: Bytes::from(body),
            keys,
            domains: domains.into_iter().collect(),
        }
    }
}

/// `count` batches of `size` addresses each, from `seed`.
pub fn batches(data: &Dataset, seed: u64, count: usize, size: usize) -> Vec<Batch> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Slot kinds of 20 addresses, repeated for larger batches.
    const PATTERN: &str = "ohhhhhhhhhhhccccffdd";
    let mut nonce = 0u64;
    (0..count)
        .map(|_| {
            let mut addresses: Vec<String> = PATTERN
                .chars()
                .cycle()
                .take(size)
                .map(|kind| {
                    nonce += 1;
                    match kind {
                        'o' => OWNER_ALIAS.to_uppercase(),
                        'h' if data.contacts > 0 => {
                            let contact = data.contact(rng.gen_range(0..data.contacts));
                            let address = contact.emails.choose(&mut rng).expect("an address");
                            if rng.gen_ratio(1, 4) {
                                capitalise_first(address)
                            } else {
                                address.clone()
                            }
                        }
                        'c' if data.companies > 0 => {
                            data.unknown_at_company(rng.gen_range(0..data.companies), nonce)
                        }
                        'f' => unknown_free_mail(nonce),
                        _ => unknown_domain(nonce),
                    }
                })
                .collect();
            addresses.shuffle(&mut rng);
            Batch::new(addresses)
        })
        .collect()
}

fn capitalise_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_seeded_and_mixed() {
        let data = Dataset {
            seed: 1,
            contacts: 1_000,
            companies: 200,
        };
        let a = batches(&data, 5, 50, 20);
        let b = batches(&data, 5, 50, 20);
        assert!(a.iter().zip(&b).all(|(x, y)| x.addresses == y.addresses));
        assert_ne!(a[0].addresses, batches(&data, 6, 1, 20)[0].addresses);
        for batch in &a {
            assert_eq!(batch.addresses.len(), 20);
            assert!(batch
                .addresses
                .iter()
                .all(|x| EmailAddress::parse(x).is_ok()));
            // 4 existing companies' domains, 2 unknown ones, plus the hits' companies.
            assert!(batch.domains.len() >= 6, "{batch:?}");
            // One key per address, but a contact picked twice gives one key for two.
            assert!(batch.keys.len() >= 15, "{batch:?}");
        }
        let body: LookupRequest = serde_json::from_slice(&a[0].body).unwrap();
        assert_eq!(body.addresses, a[0].addresses);
    }
}
