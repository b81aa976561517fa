"""Writes COUNT distinct GPX activity files for scripts/bench-import:

  gpx_tracks.py OUT_DIR COUNT [SEED]

Each file is one activity as a Garmin device writes it (GPX 1.1, heart rate in Garmin's
TrackPointExtension, times in UTC with `Z`): a point every 5 s for 20-100 minutes (an hour on
average, about 720 points, ~120 KB), a run, ride, walk or hike at a plausible speed along a
wandering loop from one of four home towns in four time zones (so the zone lookup has work),
hills, a stop now and then (a gap of 1-5 minutes). Start times are spread over ten years, one
activity every 8.8 hours on average, so no two files are the same activity. Files go into one
folder per year (the import searches folders recursively). The same COUNT and SEED always give
the same bytes. Prints the number of files, points and bytes written.
"""

import math
import os
import random
import sys
import time

EARTH_RADIUS_M = 6_371_000.0
INTERVAL_S = 5
# Home towns: [lat, lng]; the zone at the first point is each file's local time.
HOMES = [
    (47.3769, 8.5417),  # Zurich, Europe/Zurich
    (40.7128, -74.0060),  # New York, America/New_York
    (-33.8688, 151.2093),  # Sydney, Australia/Sydney
    (35.6762, 139.6503),  # Tokyo, Asia/Tokyo
]
# GPX <type>, average speed in m/s, heart rate around
SPORTS = [
    ("running", 3.0, 150),
    ("running", 3.0, 150),
    ("running", 3.0, 150),
    ("cycling", 7.5, 135),
    ("cycling", 7.5, 135),
    ("walking", 1.4, 100),
    ("hiking", 1.2, 115),
]
NAMES = {
    "running": "Morning Run",
    "cycling": "Afternoon Ride",
    "walking": "Evening Walk",
    "hiking": "Hike",
}

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gpx creator="Garmin Forerunner 965" version="1.1" '
    'xmlns="http://www.topografix.com/GPX/1/1" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd '
    "http://www.garmin.com/xmlschemas/TrackPointExtension/v1 "
    'http://www.garmin.com/xmlschemas/TrackPointExtensionv1.xsd" '
    'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">\n'
    " <metadata>\n  <time>{time}</time>\n </metadata>\n"
    " <trk>\n  <name>{name}</name>\n  <type>{type}</type>\n  <trkseg>\n"
)
TAIL = "  </trkseg>\n </trk>\n</gpx>\n"


def utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def track(rng, start):
    """The file's text and its number of points."""
    sport, speed, hr0 = rng.choice(SPORTS)
    lat, lng = rng.choice(HOMES)
    # Start somewhere within ~5 km of home.
    lat += rng.uniform(-0.04, 0.04)
    lng += rng.uniform(-0.04, 0.04)
    minutes = rng.uniform(20, 100)
    points = int(minutes * 60 / INTERVAL_S)
    heading = rng.uniform(0, 2 * math.pi)
    turn = 2 * math.pi / points  # once around: a loop
    ele0 = rng.uniform(10, 600)
    climbs = rng.randint(1, 6)
    height = rng.uniform(5, 80)
    stop_at = rng.randint(points // 4, 3 * points // 4) if rng.random() < 0.4 else -1
    stop_s = rng.randint(60, 300)
    out = [HEAD.format(time=utc(start), name=NAMES[sport], type=sport)]
    append = out.append
    t = start
    cos_lat = math.cos(math.radians(lat))
    for k in range(points):
        u = k / points
        ele = ele0 + height * (1 - math.cos(2 * math.pi * climbs * u)) / 2 + rng.uniform(-0.4, 0.4)
        hr = int(hr0 + 8 * math.sin(6 * math.pi * u) + rng.uniform(-2, 2))
        append(
            f'   <trkpt lat="{lat:.7f}" lon="{lng:.7f}"><ele>{ele:.1f}</ele><time>{utc(t)}</time>'
            f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{hr}</gpxtpx:hr>"
            f"</gpxtpx:TrackPointExtension></extensions></trkpt>\n"
        )
        step = speed * INTERVAL_S * rng.uniform(0.85, 1.15)
        heading += turn + rng.uniform(-0.15, 0.15)
        lat += math.degrees(step * math.cos(heading) / EARTH_RADIUS_M)
        lng += math.degrees(step * math.sin(heading) / (EARTH_RADIUS_M * cos_lat))
        t += INTERVAL_S
        if k == stop_at:
            t += stop_s
    append(TAIL)
    return "".join(out), points


def main():
    out_dir, count = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rng = random.Random(seed)
    # Ten years back from a fixed instant (2026-01-01T00:00:00Z), oldest first.
    end = 1767225600
    span = 10 * 365.25 * 86400
    every = span / count
    total_points = 0
    total_bytes = 0
    for i in range(count):
        # Anywhere in the first three quarters of its slot: starts never overlap by much.
        start = int(end - span + i * every + rng.uniform(0, every * 0.75))
        text, points = track(rng, start)
        year = time.gmtime(start).tm_year
        folder = os.path.join(out_dir, str(year))
        os.makedirs(folder, exist_ok=True)
        data = text.encode()
        with open(os.path.join(folder, f"activity_{i:05d}.gpx"), "wb") as f:
            f.write(data)
        total_points += points
        total_bytes += len(data)
    print(f"{count} files, {total_points} points, {total_bytes} bytes")


if __name__ == "__main__":
    main()
