//! The CRM side as the core sees it: a contact and its company, plain data.
//!
//! A mirror of `threadline-crm`'s contact and company records, filled by the integration
//! (so this crate stays pure and does not depend on the CRM's storage). Only what the
//! export writes is here; anything else the CRM knows about a contact never reaches Google.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmContact {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    /// Normalised addresses, the primary first. May be empty: contacts with no address and
    /// no phone are exported too.
    pub emails: Vec<String>,
    /// `(number, label)`; the label is free text (`"mobile"`, `"Kantoor"`, …).
    pub phones: Vec<(String, Option<String>)>,
    pub job_title: Option<String>,
    pub notes: Option<String>,
    pub company: Option<CrmCompany>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmCompany {
    pub name: String,
    pub address: Option<String>,
    pub website: Option<String>,
    /// The company's mail domains (`acme.com`): an address in one of them is a work address.
    pub domains: Vec<String>,
}
