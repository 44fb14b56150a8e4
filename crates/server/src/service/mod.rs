//! What the API does, without HTTP: handlers in [`crate::routes`] read the request, call a service
//! function here, and turn its answer or its typed problem into a response. Services speak the store's
//! and the model's types, never status codes or headers.

pub mod access;
pub mod event_sight;
pub mod login;
pub mod records;
