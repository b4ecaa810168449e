//! The extension's cache of address verdicts: entries expire, and every entry goes when a
//! contact is added (a new contact can turn another address ambiguous or known).
//! The clock is passed in, so the cache is pure and testable.

use std::collections::HashMap;

use crate::api::AddressLookup;

/// How long a verdict is trusted.
pub const DEFAULT_TTL_MS: f64 = 5.0 * 60.0 * 1000.0;

#[derive(Debug)]
pub struct LookupCache {
    ttl_ms: f64,
    entries: HashMap<String, (AddressLookup, f64)>,
}

/// The cache key of a raw address as the page shows it.
pub fn cache_key(address: &str) -> String {
    address.trim().to_lowercase()
}

impl LookupCache {
    pub fn new(ttl_ms: f64) -> Self {
        LookupCache {
            ttl_ms,
            entries: HashMap::new(),
        }
    }

    pub fn get(&self, address: &str, now_ms: f64) -> Option<&AddressLookup> {
        self.entries
            .get(&cache_key(address))
            .filter(|(_, expires)| *expires > now_ms)
            .map(|(v, _)| v)
    }

    pub fn insert(&mut self, lookup: AddressLookup, now_ms: f64) {
        let key = cache_key(&lookup.address);
        self.entries.insert(key, (lookup, now_ms + self.ttl_ms));
    }

    /// The addresses among `addresses` with no fresh entry, deduplicated, in first-seen order.
    pub fn misses<'a>(
        &self,
        addresses: impl IntoIterator<Item = &'a str>,
        now_ms: f64,
    ) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        addresses
            .into_iter()
            .filter(|a| self.get(a, now_ms).is_none())
            .filter(|a| seen.insert(cache_key(a)))
            .map(str::to_string)
            .collect()
    }

    pub fn invalidate_all(&mut self) {
        self.entries.clear();
    }

    /// Drops expired entries (called now and then so the map does not grow forever).
    pub fn prune(&mut self, now_ms: f64) {
        self.entries.retain(|_, (_, expires)| *expires > now_ms);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::MatchStatus;

    fn verdict(address: &str, status: MatchStatus) -> AddressLookup {
        AddressLookup {
            address: address.to_string(),
            normalized: Some(address.to_lowercase()),
            status,
            contacts: vec![],
            suggestions: vec![],
            suggested_company: None,
            error: None,
            privacy: None,
        }
    }

    #[test]
    fn hits_misses_expiry_and_invalidation() {
        let mut cache = LookupCache::new(1000.0);
        cache.insert(verdict("Ann@Acme.example", MatchStatus::Unknown), 0.0);
        // Keys ignore case and surrounding space, as the page shows addresses both ways.
        assert_eq!(
            cache.get(" ann@acme.example ", 10.0).map(|v| v.status),
            Some(MatchStatus::Unknown)
        );
        assert_eq!(
            cache.misses(
                [
                    "ann@acme.example",
                    "bob@globex.example",
                    "BOB@globex.example"
                ],
                10.0
            ),
            vec!["bob@globex.example".to_string()]
        );
        // Expired at ttl.
        assert!(cache.get("ann@acme.example", 1000.0).is_none());
        cache.prune(1000.0);
        assert!(cache.is_empty());
        cache.insert(verdict("ann@acme.example", MatchStatus::Known), 2000.0);
        assert_eq!(cache.len(), 1);
        cache.invalidate_all();
        assert!(cache.get("ann@acme.example", 2001.0).is_none());
    }
}
