//! The registry's operations, one module per resource.

pub mod accounts;
pub mod blobs;
pub mod discovery;
pub mod iam;
pub mod images;
pub mod layers;
pub mod manifests;
pub mod repositories;
pub mod uploads;
