//! The load benchmark's actix-web reference (`scripts/bench`): serves the files of a directory
//! from memory, one route per file at its path below the directory (`DIR/strava/stats/ytd` at
//! `/strava/stats/ytd`), each answer a clone of the file's bytes as `application/json` with a
//! strong ETag, and `304 Not Modified` for a matching `If-None-Match`. Nothing else runs per
//! request, so it measures what actix-web itself reaches on the machine, next to nginx and
//! milepost on the same bytes.
//!
//!   cargo run --release --example static_body -- DIR [PORT] [WORKERS]
//!
//! Binds 127.0.0.1:PORT (default 0: a free port), two workers unless told, and prints
//! `listening on 127.0.0.1:<port>` once it accepts.

use std::path::{Path, PathBuf};

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};

struct Body {
    route: String,
    bytes: Bytes,
    etag: HeaderValue,
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<Body>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
            continue;
        }
        let bytes = Bytes::from(std::fs::read(&path)?);
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let route = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
        let etag = HeaderValue::from_str(&format!("\"{:016x}\"", fnv1a(&bytes)))
            .expect("hex is a valid header value");
        out.push(Body { route, bytes, etag });
    }
    Ok(())
}

/// FNV-1a over the body: an ETag that changes with the bytes, computed once at start-up.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Whether `If-None-Match` names `etag` (or `*`); a plain byte comparison per listed tag.
fn not_modified(req: &HttpRequest, etag: &HeaderValue) -> bool {
    let wanted = etag.as_bytes();
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(|tag| tag.trim_ascii())
        .any(|tag| tag == b"*" || tag == wanted || tag.strip_prefix(b"W/") == Some(wanted))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| {
        eprintln!("usage: static_body DIR [PORT] [WORKERS]");
        std::process::exit(2);
    }));
    let port: u16 = args
        .next()
        .map_or(0, |p| p.parse().expect("PORT: a number"));
    let workers: usize = args
        .next()
        .map_or(2, |w| w.parse().expect("WORKERS: a number"));

    let mut bodies = Vec::new();
    collect(&dir, &dir, &mut bodies)?;
    bodies.sort_by(|a, b| a.route.cmp(&b.route));
    let bodies = web::Data::new(bodies);

    let server = HttpServer::new(move || {
        let mut app = App::new();
        for body in bodies.iter() {
            let bytes = body.bytes.clone();
            let etag = body.etag.clone();
            app = app.route(
                &body.route,
                web::get().to(move |req: HttpRequest| {
                    let response = if not_modified(&req, &etag) {
                        HttpResponse::NotModified()
                            .insert_header((header::ETAG, etag.clone()))
                            .finish()
                    } else {
                        HttpResponse::Ok()
                            .insert_header((header::CONTENT_TYPE, "application/json"))
                            .insert_header((header::ETAG, etag.clone()))
                            .body(bytes.clone())
                    };
                    async move { response }
                }),
            );
        }
        app
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("listening on {addr}");
    }
    server.run().await
}
