//! Micro benchmarks of the work behind a read: deriving every body from a large history (done
//! once per data change) and serializing the ytd body. Run with `cargo bench --bench stats`.

use chrono::{Duration, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use milepost::stats::{self, PublicVisibility};
use milepost::strava::models::{Activity, ActivityStats};

/// A ten-year history of `n` activities.
fn history(n: usize) -> Vec<Activity> {
    let start = Utc.with_ymd_and_hms(2016, 1, 1, 7, 0, 0).unwrap();
    let kinds = ["Run", "Ride", "Swim", "Walk", "Hike"];
    (0..n)
        .map(|i| {
            let at = start + Duration::hours(17 * i as i64);
            let date = at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            serde_json::from_value(serde_json::json!({
                "id": 10_000_000_000_i64 + i as i64,
                "name": format!("Activity {i}"),
                "type": kinds[i % kinds.len()],
                "sport_type": kinds[i % kinds.len()],
                "distance": 5000.0 + i as f64,
                "moving_time": 1800,
                "elapsed_time": 1900,
                "total_elevation_gain": 42.0,
                "start_date": date,
                "start_date_local": date,
                "utc_offset": 3600.0,
                "visibility": if i % 10 == 0 { "followers_only" } else { "everyone" },
                "private": false,
            }))
            .unwrap()
        })
        .collect()
}

fn derive(c: &mut Criterion) {
    let now = Utc::now();
    for n in [1_132, 10_000] {
        let activities = history(n);
        c.bench_function(&format!("derive every body from {n} activities"), |b| {
            b.iter(|| {
                let mut memo = stats::CalendarMemo::default();
                stats::activity_bodies(&activities, PublicVisibility::Everyone, now, now, &mut memo)
            })
        });
    }
    // What an ingest of one new activity does: every body again, from the whole history, with
    // what the derivation before it wrote.
    let mut activities = history(10_000);
    let newest = history(10_001).pop().unwrap();
    let mut before = stats::CalendarMemo::default();
    stats::activity_bodies(
        &activities,
        PublicVisibility::Everyone,
        now,
        now,
        &mut before,
    );
    c.bench_function(
        "derive every body again after one new activity (10000)",
        |b| {
            b.iter_batched(
                || before.clone(),
                |mut memo| {
                    activities.push(newest.clone());
                    let bodies = stats::activity_bodies(
                        &activities,
                        PublicVisibility::Everyone,
                        now,
                        now,
                        &mut memo,
                    );
                    activities.pop();
                    bodies
                },
                BatchSize::LargeInput,
            )
        },
    );
    c.bench_function("build the activity list of 10000 activities", |b| {
        b.iter(|| {
            let public = stats::public_newest_first(&activities, PublicVisibility::Everyone);
            stats::ActivityList::new(&public)
        })
    });
    // The views by local day, each on its own (all types; the derivation adds one per type).
    let public = stats::public_newest_first(&activities, PublicVisibility::Everyone);
    let dated = stats::dated(&public);
    let today = now.date_naive();
    c.bench_function("date 10000 activities", |b| {
        b.iter(|| stats::dated(&public))
    });
    c.bench_function("weekly of 10000 activities", |b| {
        b.iter(|| stats::weekly(&dated, today, None, now))
    });
    c.bench_function("streaks of 10000 activities", |b| {
        b.iter(|| stats::streaks(&dated, today, None, now))
    });
    c.bench_function("eddington of 10000 activities", |b| {
        b.iter(|| stats::eddington(&dated, now))
    });
    c.bench_function("every calendar of 10000 activities", |b| {
        b.iter(|| stats::calendars(&dated, now, &mut stats::CalendarMemo::default()))
    });
    let athlete_stats = ActivityStats::default();
    c.bench_function("serialize the ytd body", |b| {
        b.iter(|| stats::ytd(&athlete_stats, now))
    });
}

criterion_group!(benches, derive);
criterion_main!(benches);
