//! What an import did: counts, the rows skipped and rejected (grouped by reason, with the
//! first few row numbers), and the summary printed at the end. Bounded: only counts and
//! [`EXAMPLES`] rows per group are kept, whatever the file's size.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Rows shown per group in the summary (all of them go to `--rejects FILE`).
pub const EXAMPLES: usize = 5;

/// Why a row was rejected: `group` is what rows with the same fault share (the summary's
/// heading), `detail` says what is wrong in this row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub group: String,
    pub detail: String,
}

/// Rows of one kind: how many, and the first few.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rows<T> {
    pub count: u64,
    pub first: Vec<T>,
}

impl<T> Rows<T> {
    pub fn add(&mut self, item: T) {
        self.count += 1;
        if self.first.len() < EXAMPLES {
            self.first.push(item);
        }
    }
}

/// Rejected rows with one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectGroup {
    pub reason: String,
    /// (row, detail)
    pub rows: Rows<(u64, String)>,
}

/// Kept as JSON by a web import (`jobs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub dry_run: bool,
    /// Rows read (blank ones included).
    pub rows_read: u64,
    pub blank_rows: u64,
    pub imported: u64,
    pub companies_created: u64,
    /// Rows whose primary address a contact of the organisation already has.
    pub existing: Rows<u64>,
    /// Rows whose primary address an earlier row of the file has: (row, earlier row).
    pub repeated: Rows<(u64, u64)>,
    pub rejected: u64,
    /// In the order the reasons were first met.
    pub groups: Vec<RejectGroup>,
    /// The last row whose batch was committed (or, in a dry run, checked).
    pub done_through_row: u64,
}

impl Report {
    pub fn reject(&mut self, row: u64, reason: &Reason) {
        self.rejected += 1;
        let group = match self.groups.iter().position(|g| g.reason == reason.group) {
            Some(i) => &mut self.groups[i],
            None => {
                self.groups.push(RejectGroup {
                    reason: reason.group.clone(),
                    rows: Rows::default(),
                });
                self.groups.last_mut().expect("just pushed")
            }
        };
        group.rows.add((row, reason.detail.clone()));
    }

    pub fn skipped(&self) -> u64 {
        self.existing.count + self.repeated.count
    }

    /// The summary printed on stdout.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let would = if self.dry_run { "would be " } else { "" };
        if self.dry_run {
            out.push_str(
                "dry run: nothing was written; the counts are what the import would do now\n",
            );
        }
        let _ = writeln!(out, "rows read: {}", self.rows_read);
        let _ = writeln!(out, "imported: {} contacts {would}created", self.imported);
        let _ = writeln!(
            out,
            "companies created: {}{}",
            self.companies_created,
            if self.dry_run { " (would be)" } else { "" }
        );
        let _ = writeln!(out, "skipped: {} rows", self.skipped());
        if self.existing.count > 0 {
            let _ = writeln!(
                out,
                "  {} already in the CRM (their primary address is a contact's): {}",
                self.existing.count,
                rows_list(
                    self.existing.count,
                    self.existing.first.iter().map(|r| format!("row {r}"))
                )
            );
        }
        if self.repeated.count > 0 {
            let _ = writeln!(
                out,
                "  {} repeat the address of an earlier row (the first one is kept): {}",
                self.repeated.count,
                rows_list(
                    self.repeated.count,
                    self.repeated
                        .first
                        .iter()
                        .map(|(r, first)| format!("row {r} (as row {first})"))
                )
            );
        }
        let _ = writeln!(out, "rejected: {} rows", self.rejected);
        for group in &self.groups {
            let _ = writeln!(out, "  {} × {}", group.rows.count, group.reason);
            for (row, detail) in &group.rows.first {
                let _ = writeln!(out, "      row {row}: {detail}");
            }
            if group.rows.count > group.rows.first.len() as u64 {
                let _ = writeln!(
                    out,
                    "      … and {} more",
                    group.rows.count - group.rows.first.len() as u64
                );
            }
        }
        if self.blank_rows > 0 {
            let _ = writeln!(out, "blank rows ignored: {}", self.blank_rows);
        }
        out
    }
}

/// `row 4, row 9, … (and 7 more)`.
fn rows_list(count: u64, shown: impl Iterator<Item = String>) -> String {
    let shown: Vec<String> = shown.collect();
    let more = count.saturating_sub(shown.len() as u64);
    let mut list = shown.join(", ");
    if more > 0 {
        let _ = write!(list, " and {more} more");
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_are_grouped_by_reason_with_the_first_rows() {
        let mut report = Report::default();
        for row in 2..10 {
            report.reject(
                row,
                &Reason {
                    group: "invalid \"email\"".into(),
                    detail: format!("bad {row}"),
                },
            );
        }
        report.reject(
            11,
            &Reason {
                group: "no email address".into(),
                detail: "none".into(),
            },
        );
        report.existing.add(12);
        report.repeated.add((13, 2));
        let summary = report.summary();
        assert_eq!(report.rejected, 9);
        assert!(
            summary.contains("rejected: 9 rows\n  8 × invalid \"email\"\n      row 2: bad 2\n"),
            "{summary}"
        );
        assert!(summary.contains("      row 6: bad 6\n      … and 3 more\n  1 × no email address\n      row 11: none\n"), "{summary}");
        assert!(summary.contains("skipped: 2 rows\n  1 already in the CRM (their primary address is a contact's): row 12\n"), "{summary}");
        assert!(summary.contains("row 13 (as row 2)"), "{summary}");
    }
}
