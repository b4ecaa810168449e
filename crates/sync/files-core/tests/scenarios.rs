//! Whole runs through the planner against the in-memory world (`common`).

mod common;

use common::*;
use threadline_files_core::Provider;

#[test]
fn smoke() {
    for provider in [Provider::Dropbox, Provider::GoogleDrive] {
        let mut w = World::new(provider);
        w.record(company(1), "Acme");
        w.crm
            .create(company(1), None, "offer.pdf", Some(b"v1".to_vec()))
            .unwrap();
        let p = w.sync().unwrap();
        println!("{p:#?}");
        w.check().unwrap();
        let p = w.sync().unwrap();
        assert!(p.is_quiet(), "{p:#?}");
    }
}
