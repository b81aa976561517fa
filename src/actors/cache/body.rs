//! A body as served: its bytes, its media type, its ETag, and its gzip form, all made once.

use actix_web::http::header::HeaderValue;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// A response body exactly as served, with its ETag as a header value, and its gzip form when
/// that pays (made once, when the body changes).
#[derive(Debug)]
pub struct CachedBody {
    pub body: Bytes,
    pub media: Media,
    pub etag: String,
    pub etag_header: HeaderValue,
    pub gzip: Option<Gzipped>,
}

/// What a body is: the JSON of the stats routes, or a card's SVG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Json,
    Svg,
}

/// A body's gzip form: another representation, so another ETag (the identity one with `-gz`).
#[derive(Debug)]
pub struct Gzipped {
    pub body: Bytes,
    pub etag_header: HeaderValue,
}

/// Bodies shorter than this are served as they are: a few hundred bytes gain nothing.
const GZIP_FROM: usize = 1_024;

impl CachedBody {
    pub fn new(body: Bytes) -> Self {
        let etag = etag_of(&body);
        Self::with_etag(body, etag)
    }

    /// A body made once per data change: compressed as small as gzip goes.
    pub fn with_etag(body: Bytes, etag: String) -> Self {
        Self::compressed(body, etag, flate2::Compression::best())
    }

    /// A body made on demand (a page of the activity list for a query not seen since the last
    /// change): compressed fast, so a stream of new queries costs little more than the pages.
    pub fn on_demand(body: Bytes, etag: String) -> Self {
        Self::compressed(body, etag, flate2::Compression::fast())
    }

    /// A card made on demand, compressed fast.
    pub fn svg(body: Bytes) -> Self {
        let etag = etag_of(&body);
        Self {
            media: Media::Svg,
            ..Self::compressed(body, etag, flate2::Compression::fast())
        }
    }

    fn compressed(body: Bytes, etag: String, level: flate2::Compression) -> Self {
        let gzip = (body.len() >= GZIP_FROM)
            .then(|| gzip(&body, level))
            .flatten()
            // worth a header only when it saves a tenth
            .filter(|g| g.len() * 10 < body.len() * 9)
            .and_then(|g| {
                let tag = format!("{}-gz\"", etag.trim_end_matches('"'));
                Some(Gzipped {
                    body: g.into(),
                    etag_header: HeaderValue::from_str(&tag).ok()?,
                })
            });
        // The cache's ETags are quoted hex digests: always a valid header value.
        let etag_header =
            HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Self {
            body,
            media: Media::Json,
            etag,
            etag_header,
            gzip,
        }
    }
}

impl CachedBody {
    /// The same body in memory of its own. Each worker serves its own copies: a body two
    /// workers share has one reference count, and every answer's clone of it would move that
    /// count's cache line between their cores.
    pub fn local_copy(&self) -> Self {
        Self {
            body: Bytes::copy_from_slice(&self.body),
            media: self.media,
            etag: self.etag.clone(),
            etag_header: header_copy(&self.etag_header),
            gzip: self.gzip.as_ref().map(|g| Gzipped {
                body: Bytes::copy_from_slice(&g.body),
                etag_header: header_copy(&g.etag_header),
            }),
        }
    }
}

fn header_copy(value: &HeaderValue) -> HeaderValue {
    HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone())
}

fn gzip(body: &[u8], level: flate2::Compression) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

/// A strong ETag: the first 96 bits of the body's SHA-256, in hex and quotes.
pub(super) fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}
