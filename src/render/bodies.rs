//! The JSON bodies the API serves, as the cards and the page read them back: only the fields
//! they show. A body that is not of the expected shape reads as no body (not synced yet).

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// T in the API: the totals of a group of activities.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Totals {
    pub count: i64,
    pub distance: f64,
    pub moving_time: i64,
    pub elevation_gain: f64,
}

#[derive(Deserialize)]
struct Envelope<D> {
    data: D,
}

/// The `data` of a body, or None when there is no body or it is not the expected shape.
pub fn data<D: DeserializeOwned>(body: Option<&[u8]>) -> Option<D> {
    let envelope: Envelope<D> = serde_json::from_slice(body?).ok()?;
    Some(envelope.data)
}

/// The whole body, or None as for [`data`].
pub fn whole<D: DeserializeOwned>(body: Option<&[u8]>) -> Option<D> {
    serde_json::from_slice(body?).ok()
}
