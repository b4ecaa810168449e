//! `sqlx::migrate!` embeds `migrations/` at compile time, and cargo does not know to rebuild
//! when a migration is added (only changed Rust files trigger it): without this, a binary
//! built before a new migration file keeps the old list and never applies it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
