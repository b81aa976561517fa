//! `milepost_http_requests_total`: every answer counted by route pattern (`unmatched` for
//! unknown paths, so a scan cannot grow the label set) and status.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::metrics::{HttpLabels, Metrics};

/// The route label of a path no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The middleware.
pub async fn count(
    metrics: web::Data<Metrics>,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED.to_owned());
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    Ok(response)
}
