//! `activities.csv`, the index of a Strava account export: one [`ExportRow`] per activity, or a
//! [`RowRefusal`] for a row that cannot be one, whatever the account's language and whichever of
//! Strava's layouts wrote the file (`strava-export.md` beside the SPEC describes them).
//!
//! **Which column is which.** Headers repeat (`Elapsed Time`, `Distance`, `Max Heart Rate`,
//! `Commute` appear twice), so records are read by position, and the header only says which
//! position holds what:
//! - English and German headers are recognised by name, and so are the lowercase headers of the
//!   exports before mid-2019 (`id,date,name,type,…`). Of a repeated name, the occurrence after
//!   `Bike Weight` belongs to the SI block, the one before it to the display block.
//! - Any other language is read by position when the column count is one Strava is known to have
//!   written (87, 92, 94, 99, 101): each new column was inserted before `Media`, so the first 51
//!   columns, every one read here, sit at the same place in all five.
//! - Anything else is refused with its column count and first header cell, never guessed.
//!
//! **Units.** The block after `Bike Weight` is SI (seconds, metres, m/s) and wins where it has a
//! value. The first block is in the athlete's display units with the locale's decimal separator
//! (`"10,5"` in German): elapsed time is seconds there too, but distance is km or mi. When a row
//! has no SI distance, the display distance is converted with the unit the file's other rows
//! show (SI ÷ display ≈ 1000 or ≈ 1609); a file without any SI distance (the 10-column exports
//! from mid-2019, before the SI block) is taken as km, as miles cannot be told from it, and the
//! pre-mid-2019 layout is metres, as it wrote.
//!
//! **Dates.** `Activity Date` is UTC: `May 29, 2022, 3:53:35 PM` in English, day-first numbers
//! (`29.05.2022, 15:53:35`) in German, `2018-09-12 15:02:23` before mid-2019. Numeric dates with
//! slashes are read day-first: the only locale that writes month-first, US English, spells the
//! month out.
//!
//! **Rows.** Each row is read or refused on its own; `row` counts CSV records, 1 being the first
//! after the header, so a description with line breaks is still one row (a user's "line 7" in a
//! spreadsheet is row 6 here, the header being line 1).

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

use super::Refusal;
use super::sport::sport_type_of;

/// What `activities.csv` holds: how its header was read, and each data row in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportTable {
    pub layout: Layout,
    pub rows: Vec<Result<ExportRow, RowRefusal>>,
}

/// How the header was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Headers read by name, in English.
    English,
    /// Headers read by name, in German.
    German,
    /// The lowercase headers of exports before mid-2019 (`id,date,name,type,…`), distances in
    /// metres.
    Legacy,
    /// Headers in another language, read by position in Strava's layout of this many columns.
    ByPosition { columns: usize },
}

/// One activity as the export lists it. Units as Strava's API: seconds, metres, m/s.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    /// Strava's activity id: the same activity as the API's copy.
    pub id: i64,
    /// `Activity Date`, which is UTC.
    pub start: DateTime<Utc>,
    pub name: String,
    /// `Activity Type` as written, in the account's language.
    pub activity_type: String,
    /// `activity_type` as a `sport_type`; `None` when the name is not known, and the caller takes
    /// the sport from the activity's file or `Workout`.
    pub sport_type: Option<&'static str>,
    pub elapsed_time: Option<i64>,
    pub moving_time: Option<i64>,
    pub distance: Option<f64>,
    pub elevation_gain: Option<f64>,
    pub max_speed: Option<f64>,
    pub average_speed: Option<f64>,
    pub max_heartrate: Option<f64>,
    pub average_heartrate: Option<f64>,
    /// The activity's file inside the export (`activities/123.fit.gz`); `None` for a manual
    /// activity and for the error marker (`#error#`) Strava writes when it lost the file.
    pub filename: Option<String>,
    /// `Activity Gear` as written (the gear's name, not an id).
    pub gear: Option<String>,
    pub commute: bool,
}

/// A data row that is not an activity, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRefusal {
    /// The CSV record number, 1 being the first after the header: the summary lists the row as
    /// `activities.csv:ROW`.
    pub row: usize,
    pub reason: String,
}

/// The column counts of Strava's layouts seen so far.
const KNOWN_COLUMN_COUNTS: [usize; 5] = [87, 92, 94, 99, 101];

/// Reads `activities.csv`. Refused only when the file has no header or a layout not known;
/// a bad row is a [`RowRefusal`] among the rows and the rest still reads.
pub fn read(bytes: &[u8]) -> Result<ExportTable, Refusal> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();

    let header: Vec<String> = match records.next() {
        Some(Ok(record)) => record
            .iter()
            .map(|cell| text(cell).trim().to_string())
            .collect(),
        Some(Err(error)) => {
            return Err(Refusal::new(format!(
                "activities.csv: the header is not readable CSV ({error})"
            )));
        }
        None => return Err(Refusal::new("activities.csv is empty")),
    };
    let (layout, columns) = recognise(&header)?;

    let records: Vec<(usize, Result<Vec<String>, String>)> = records
        .enumerate()
        .map(|(index, record)| {
            let cells = record
                .map(|record| record.iter().map(|cell| text(cell).into_owned()).collect())
                .map_err(|error| format!("not readable as CSV ({error})"));
            (index + 1, cells)
        })
        .collect();
    let decimal = if layout == Layout::English {
        Decimal::Point
    } else {
        Decimal::Either
    };
    let unit = display_distance_unit(&records, &columns, decimal, layout);

    let rows = records
        .into_iter()
        .map(|(row, cells)| {
            cells
                .and_then(|cells| read_row(&cells, &header, &columns, decimal, unit))
                .map_err(|reason| RowRefusal { row, reason })
        })
        .collect();
    Ok(ExportTable { layout, rows })
}

/// Fields are UTF-8 in every export seen; a stray byte costs one character, not the row.
fn text(cell: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(cell)
}

/// Where the fields milepost reads sit in one file. A field with two positions (the display and
/// the SI block) lists the one to prefer first.
#[derive(Debug, Clone, PartialEq)]
struct Columns {
    id: usize,
    date: usize,
    name: Option<usize>,
    activity_type: Option<usize>,
    display_elapsed: Option<usize>,
    display_distance: Option<usize>,
    si_elapsed: Option<usize>,
    si_distance: Option<usize>,
    moving_time: Option<usize>,
    max_speed: Option<usize>,
    average_speed: Option<usize>,
    elevation_gain: Option<usize>,
    max_heartrate: [Option<usize>; 2],
    average_heartrate: Option<usize>,
    filename: Option<usize>,
    gear: Option<usize>,
    commute: [Option<usize>; 2],
}

/// The fields read, as the header names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Date,
    Name,
    Type,
    ElapsedTime,
    Distance,
    MaxHeartRate,
    Commute,
    Gear,
    Filename,
    BikeWeight,
    MovingTime,
    MaxSpeed,
    AverageSpeed,
    ElevationGain,
    AverageHeartRate,
}

const ENGLISH: &[(&str, Field)] = &[
    ("Activity ID", Field::Id),
    ("Activity Date", Field::Date),
    ("Activity Name", Field::Name),
    ("Activity Type", Field::Type),
    ("Elapsed Time", Field::ElapsedTime),
    ("Distance", Field::Distance),
    ("Max Heart Rate", Field::MaxHeartRate),
    ("Commute", Field::Commute),
    ("Activity Gear", Field::Gear),
    ("Filename", Field::Filename),
    ("Bike Weight", Field::BikeWeight),
    ("Moving Time", Field::MovingTime),
    ("Max Speed", Field::MaxSpeed),
    ("Average Speed", Field::AverageSpeed),
    ("Elevation Gain", Field::ElevationGain),
    ("Average Heart Rate", Field::AverageHeartRate),
];

const GERMAN: &[(&str, Field)] = &[
    ("Aktivitäts-ID", Field::Id),
    ("Aktivitätsdatum", Field::Date),
    ("Name der Aktivität", Field::Name),
    ("Aktivitätsart", Field::Type),
    ("Verstrichene Zeit", Field::ElapsedTime),
    ("Distanz", Field::Distance),
    ("Max. Herzfrequenz", Field::MaxHeartRate),
    ("Pendeln", Field::Commute),
    ("Aktivitätsausrüstung", Field::Gear),
    ("Dateiname", Field::Filename),
    ("Fahrradgewicht", Field::BikeWeight),
    ("Bewegungszeit", Field::MovingTime),
    ("Höchstgeschw.", Field::MaxSpeed),
    ("Durchschnittliche Geschwindigkeit", Field::AverageSpeed),
    ("Höhenzunahme", Field::ElevationGain),
    ("Durchschnittliche Herzfrequenz", Field::AverageHeartRate),
];

const LEGACY: &[(&str, Field)] = &[
    ("id", Field::Id),
    ("date", Field::Date),
    ("name", Field::Name),
    ("type", Field::Type),
    ("elapsed_time", Field::ElapsedTime),
    ("distance", Field::Distance),
    ("commute", Field::Commute),
    ("gear", Field::Gear),
    ("filename", Field::Filename),
];

/// Positions in Strava's 87- to 101-column layouts (0-based; the same in all of them).
const BY_POSITION: Columns = Columns {
    id: 0,
    date: 1,
    name: Some(2),
    activity_type: Some(3),
    display_elapsed: Some(5),
    display_distance: Some(6),
    si_elapsed: Some(15),
    si_distance: Some(17),
    moving_time: Some(16),
    max_speed: Some(18),
    average_speed: Some(19),
    elevation_gain: Some(20),
    max_heartrate: [Some(30), Some(7)],
    average_heartrate: Some(31),
    filename: Some(12),
    gear: Some(11),
    commute: [Some(9), Some(50)],
};

fn recognise(header: &[String]) -> Result<(Layout, Columns), Refusal> {
    for (layout, names) in [
        (Layout::English, ENGLISH),
        (Layout::German, GERMAN),
        (Layout::Legacy, LEGACY),
    ] {
        if let Some(columns) = by_name(header, names) {
            return Ok((layout, columns));
        }
    }
    if KNOWN_COLUMN_COUNTS.contains(&header.len()) {
        return Ok((
            Layout::ByPosition {
                columns: header.len(),
            },
            BY_POSITION,
        ));
    }
    Err(Refusal::new(format!(
        "activities.csv has {} columns and its first header cell is \"{}\": not a layout \
         Strava is known to write (English or German headers, or {} columns)",
        header.len(),
        shorten(header.first().map(String::as_str).unwrap_or("")),
        KNOWN_COLUMN_COUNTS
            .map(|count| count.to_string())
            .join(", "),
    )))
}

/// The columns of a header in one language; `None` unless it names both the id and the date.
fn by_name(header: &[String], names: &[(&str, Field)]) -> Option<Columns> {
    let field_at = |index: usize| {
        names
            .iter()
            .find(|(name, _)| *name == header[index])
            .map(|(_, field)| *field)
    };
    let fields: Vec<Option<Field>> = (0..header.len()).map(field_at).collect();
    let positions = |wanted: Field| {
        fields
            .iter()
            .enumerate()
            .filter(move |(_, field)| **field == Some(wanted))
            .map(|(index, _)| index)
    };
    let first = |wanted: Field| positions(wanted).next();
    // The SI block starts after `Bike Weight`; without it there is only the display block.
    let si_start = first(Field::BikeWeight);
    let display =
        |wanted: Field| positions(wanted).find(|index| si_start.is_none_or(|start| *index < start));
    let si =
        |wanted: Field| si_start.and_then(|start| positions(wanted).find(|index| *index > start));

    Some(Columns {
        id: first(Field::Id)?,
        date: first(Field::Date)?,
        name: first(Field::Name),
        activity_type: first(Field::Type),
        display_elapsed: display(Field::ElapsedTime),
        display_distance: display(Field::Distance),
        si_elapsed: si(Field::ElapsedTime),
        si_distance: si(Field::Distance),
        moving_time: first(Field::MovingTime),
        max_speed: first(Field::MaxSpeed),
        average_speed: first(Field::AverageSpeed),
        elevation_gain: first(Field::ElevationGain),
        max_heartrate: [si(Field::MaxHeartRate), display(Field::MaxHeartRate)],
        average_heartrate: first(Field::AverageHeartRate),
        filename: first(Field::Filename),
        gear: first(Field::Gear),
        commute: [display(Field::Commute), si(Field::Commute)],
    })
}

fn read_row(
    cells: &[String],
    header: &[String],
    columns: &Columns,
    decimal: Decimal,
    metres_per_display_unit: f64,
) -> Result<ExportRow, String> {
    let cell = |index: Option<usize>| {
        index
            .and_then(|index| cells.get(index))
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    };
    let number = |index: Option<usize>| {
        cell(index)
            .and_then(|value| number(value, decimal))
            .filter(|value| *value >= 0.0)
    };
    let first_number = |indexes: &[Option<usize>]| indexes.iter().find_map(|index| number(*index));
    let header_of = |index: usize, english: &str| {
        header
            .get(index)
            .filter(|name| !name.is_empty())
            .cloned()
            .unwrap_or_else(|| english.to_string())
    };

    let id_column = header_of(columns.id, "Activity ID");
    let id = match cell(Some(columns.id)) {
        None => {
            return Err(format!(
                "column \"{id_column}\" is empty: an activity needs its id"
            ));
        }
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| {
                format!(
                    "column \"{id_column}\" holds \"{}\", not a Strava activity id",
                    shorten(raw)
                )
            })?,
    };
    let date_column = header_of(columns.date, "Activity Date");
    let start = match cell(Some(columns.date)) {
        None => {
            return Err(format!(
                "column \"{date_column}\" is empty: an activity needs its start"
            ));
        }
        Some(raw) => parse_start(raw).ok_or_else(|| {
            format!(
                "column \"{date_column}\" holds \"{}\", not a date and time",
                shorten(raw)
            )
        })?,
    };

    let activity_type = cell(columns.activity_type).unwrap_or_default().to_string();
    let distance = number(columns.si_distance)
        .or_else(|| number(columns.display_distance).map(|value| value * metres_per_display_unit));
    Ok(ExportRow {
        id,
        start,
        name: cell(columns.name).unwrap_or_default().to_string(),
        sport_type: sport_type_of(&activity_type),
        activity_type,
        elapsed_time: first_number(&[columns.si_elapsed, columns.display_elapsed]).map(seconds),
        moving_time: number(columns.moving_time).map(seconds),
        distance,
        elevation_gain: number(columns.elevation_gain),
        max_speed: number(columns.max_speed),
        average_speed: number(columns.average_speed),
        max_heartrate: first_number(&columns.max_heartrate),
        average_heartrate: number(columns.average_heartrate),
        filename: cell(columns.filename)
            .filter(|name| !name.starts_with('#'))
            .map(str::to_string),
        gear: cell(columns.gear).map(str::to_string),
        commute: columns
            .commute
            .iter()
            .find_map(|index| cell(*index).and_then(flag))
            .unwrap_or(false),
    })
}

fn seconds(value: f64) -> i64 {
    value.round() as i64
}

/// `true`/`false` in the display block, `1.0`/`0.0` in the SI block.
fn flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "1.0" => Some(true),
        "false" | "0" | "0.0" => Some(false),
        _ => None,
    }
}

/// How a file writes its decimal separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decimal {
    /// English: a comma can only group thousands (`1,234.5`).
    Point,
    /// Other locales: a comma is the decimal separator (`10,5`), but the SI block writes a point
    /// whatever the language, so both are read.
    Either,
}

/// A number in the file's locale; `None` for anything ambiguous or not finite.
fn number(raw: &str, decimal: Decimal) -> Option<f64> {
    let raw: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''))
        .collect();
    let normal = match (raw.rfind(','), raw.rfind('.')) {
        // Both: the last one is the decimal separator, the other groups thousands.
        (Some(comma), Some(point)) if comma < point => raw.replace(',', ""),
        (Some(_), Some(_)) => raw.replace('.', "").replace(',', "."),
        (Some(_), None) if decimal == Decimal::Point => {
            if groups_thousands(&raw) {
                raw.replace(',', "")
            } else {
                return None;
            }
        }
        (Some(_), None) if raw.matches(',').count() == 1 => raw.replace(',', "."),
        (Some(_), None) => return None,
        (None, _) => raw,
    };
    normal.parse::<f64>().ok().filter(|value| value.is_finite())
}

/// `1,234` or `12,345,678`: groups of three after the first comma.
fn groups_thousands(raw: &str) -> bool {
    let mut groups = raw.trim_start_matches('-').split(',');
    let lead = groups.next().unwrap_or("");
    (1..=3).contains(&lead.len())
        && lead.bytes().all(|b| b.is_ascii_digit())
        && groups.all(|group| group.len() == 3 && group.bytes().all(|b| b.is_ascii_digit()))
}

/// Metres in one unit of the display block's distance: what the file's rows with both
/// distances show, else km (metres for the pre-mid-2019 layout).
fn display_distance_unit(
    records: &[(usize, Result<Vec<String>, String>)],
    columns: &Columns,
    decimal: Decimal,
    layout: Layout,
) -> f64 {
    const KILOMETRE: f64 = 1000.0;
    const MILE: f64 = 1609.344;
    let near = |ratio: f64, unit: f64| (ratio / unit - 1.0).abs() < 0.02;
    let (mut kilometres, mut miles) = (0_usize, 0_usize);
    for (_, cells) in records {
        let Ok(cells) = cells else { continue };
        let value = |index: Option<usize>| {
            index
                .and_then(|index| cells.get(index))
                .and_then(|raw| number(raw.trim(), decimal))
        };
        // Below one display unit the display's two decimals are too coarse to tell.
        if let (Some(si), Some(display)) =
            (value(columns.si_distance), value(columns.display_distance))
            && display >= 1.0
        {
            let ratio = si / display;
            kilometres += usize::from(near(ratio, KILOMETRE));
            miles += usize::from(near(ratio, MILE));
        }
    }
    match (kilometres, miles) {
        (k, m) if m > k => MILE,
        (k, _) if k > 0 => KILOMETRE,
        _ if layout == Layout::Legacy => 1.0,
        _ => KILOMETRE,
    }
}

/// Every way an export has been seen to write `Activity Date`, after [`parse_start`] has turned
/// commas and odd spaces into single spaces.
const DATE_FORMATS: [&str; 15] = [
    "%B %d %Y %I:%M:%S %p",
    "%B %d %Y %I:%M %p",
    "%B %d %Y %H:%M:%S",
    "%d %B %Y %H:%M:%S",
    "%d %B %Y %I:%M:%S %p",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d-%m-%Y %H:%M:%S",
];

/// `Activity Date` as UTC. A date before 1970 is a misread (a two-digit year), not an activity.
fn parse_start(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Some(time.with_timezone(&Utc));
    }
    // Newer locale data puts a narrow no-break space before AM/PM.
    let spaced = raw.replace([',', '\u{a0}', '\u{202f}'], " ");
    let words: Vec<&str> = spaced
        .split_whitespace()
        .map(|word| {
            if word.eq_ignore_ascii_case("Sept") {
                "Sep"
            } else {
                word
            }
        })
        .collect();
    let cleaned = words.join(" ");
    DATE_FORMATS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&cleaned, format).ok())
        .filter(|time| time.year() >= 1970)
        .map(|time| time.and_utc())
}

/// A value quoted in a message, cut so one bad cell cannot flood the summary.
fn shorten(value: &str) -> String {
    const LONGEST: usize = 40;
    if value.chars().count() <= LONGEST {
        value.to_string()
    } else {
        value.chars().take(LONGEST).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// The English header of a real 94-column export.
    const ENGLISH_94: &str = concat!(
        "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,",
        "Distance,Max Heart Rate,Relative Effort,Commute,Activity Private Note,Activity Gear,",
        "Filename,Athlete Weight,Bike Weight,Elapsed Time,Moving Time,Distance,Max Speed,",
        "Average Speed,Elevation Gain,Elevation Loss,Elevation Low,Elevation High,Max Grade,",
        "Average Grade,Average Positive Grade,Average Negative Grade,Max Cadence,Average Cadence,",
        "Max Heart Rate,Average Heart Rate,Max Watts,Average Watts,Calories,Max Temperature,",
        "Average Temperature,Relative Effort,Total Work,Number of Runs,Uphill Time,Downhill Time,",
        "Other Time,Perceived Exertion,Type,Start Time,Weighted Average Power,Power Count,",
        "Prefer Perceived Exertion,Perceived Relative Effort,Commute,Total Weight Lifted,",
        "From Upload,Grade Adjusted Distance,Weather Observation Time,Weather Condition,",
        "Weather Temperature,Apparent Temperature,Dewpoint,Humidity,Weather Pressure,Wind Speed,",
        "Wind Gust,Wind Bearing,Precipitation Intensity,Sunrise Time,Sunset Time,Moon Phase,Bike,",
        "Gear,Precipitation Probability,Precipitation Type,Cloud Cover,Weather Visibility,",
        "UV Index,Weather Ozone,Jump Count,Total Grit,Average Flow,Flagged,Average Elapsed Speed,",
        "Dirt Distance,Newly Explored Distance,Newly Explored Dirt Distance,Activity Count,",
        "Total Steps,Carbon Saved,Pool Length,Training Load,Intensity,",
        "Average Grade Adjusted Pace,Timer Time,Total Cycles,Media",
    );

    /// The German header of a real 94-column export, up to the last column read.
    const GERMAN_94_START: &str = concat!(
        "Aktivitäts-ID,Aktivitätsdatum,Name der Aktivität,Aktivitätsart,Aktivitätsbeschreibung,",
        "Verstrichene Zeit,Distanz,Max. Herzfrequenz,Relative Leistung,Pendeln,",
        "Hinweis zur Privatsphäre für Aktivitäten,Aktivitätsausrüstung,Dateiname,Sportlergewicht,",
        "Fahrradgewicht,Verstrichene Zeit,Bewegungszeit,Distanz,Höchstgeschw.,",
        "Durchschnittliche Geschwindigkeit,Höhenzunahme,Höhenunterschied,Min. Höhe,Max. Höhe,",
        "Max. Steigung,Durchschnittliche Steigung,Durchschnittliche positive Steigung,",
        "Durchschnittliche negative Steigung,Max. Tritt-/Schrittfrequenz,",
        "Durchschnittliche Trittfrequenz,Max. Herzfrequenz,Durchschnittliche Herzfrequenz,",
        "Max. Watt,Durchschnittliche Watt,Kalorien,Max. Temperatur,Durchschnittliche Temperatur,",
        "Relative Leistung,Gesamtarbeit,Anzahl Läufe,Bergaufzeit,Bergabzeit,Andere Zeit,",
        "Gefühlte Anstrengung,Art,Startzeit,Gewichtete durchschnittliche Leistung,Leistungszahl,",
        "Gefühlte Anstrengung verwenden,Gefühlte relative Leistung,Pendeln",
    );

    fn csv_line(cells: &[String]) -> String {
        let quoted: Vec<String> = cells
            .iter()
            .map(|cell| {
                if cell.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", cell.replace('"', "\"\""))
                } else {
                    cell.clone()
                }
            })
            .collect();
        quoted.join(",") + "\n"
    }

    /// A row of `width` cells, empty but for `values` (position, text).
    fn row(width: usize, values: &[(usize, &str)]) -> String {
        let mut cells = vec![String::new(); width];
        for (index, value) in values {
            cells[*index] = value.to_string();
        }
        csv_line(&cells)
    }

    fn header(names: &[&str]) -> String {
        csv_line(
            &names
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>(),
        )
    }

    fn english_94() -> Vec<&'static str> {
        ENGLISH_94.split(',').collect()
    }

    fn german_94() -> Vec<&'static str> {
        GERMAN_94_START
            .split(',')
            .chain(std::iter::repeat_n("…", 42))
            .chain(["Medien"])
            .collect()
    }

    fn only_row(table: &ExportTable) -> &ExportRow {
        assert_eq!(table.rows.len(), 1, "{:?}", table.rows);
        table.rows[0].as_ref().expect("the row reads")
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// The row of a real English export, figures in both blocks.
    fn english_run() -> String {
        row(
            94,
            &[
                (0, "12070555079"),
                (1, "May 29, 2022, 3:53:35 PM"),
                (2, "Laufen Landal Park"),
                (3, "Run"),
                (4, ""),
                (5, "1428"),
                (6, "3.32"),
                (9, "false"),
                (11, "Kinvara 13"),
                (12, "activities/12866632127.fit.gz"),
                (15, "1428.0"),
                (16, "1411.0"),
                (17, "3322.949951171875"),
                (18, "3.2149860858917236"),
                (19, "2.355031967163086"),
                (20, "61.878849029541016"),
                (29, "71.25904846191406"),
                (30, "164.0"),
                (31, "148.5"),
                (50, "0.0"),
            ],
        )
    }

    #[test]
    fn an_english_94_column_export_reads_the_si_block() {
        let csv = header(&english_94()) + &english_run();

        let table = read(csv.as_bytes()).unwrap();

        assert_eq!(table.layout, Layout::English);
        let run = only_row(&table);
        assert_eq!(run.id, 12070555079);
        assert_eq!(run.start, utc(2022, 5, 29, 15, 53, 35));
        assert_eq!(run.name, "Laufen Landal Park");
        assert_eq!(run.activity_type, "Run");
        assert_eq!(run.sport_type, Some("Run"));
        assert_eq!(run.elapsed_time, Some(1428));
        assert_eq!(run.moving_time, Some(1411));
        assert_eq!(run.distance, Some(3322.949951171875));
        assert_eq!(run.elevation_gain, Some(61.878849029541016));
        assert_eq!(run.max_speed, Some(3.2149860858917236));
        assert_eq!(run.average_speed, Some(2.355031967163086));
        assert_eq!(run.max_heartrate, Some(164.0));
        assert_eq!(run.average_heartrate, Some(148.5));
        assert_eq!(
            run.filename.as_deref(),
            Some("activities/12866632127.fit.gz")
        );
        assert_eq!(run.gear.as_deref(), Some("Kinvara 13"));
        assert!(!run.commute);
    }

    #[test]
    fn a_german_export_reads_day_first_dates_and_decimal_commas() {
        let csv = header(&german_94())
            + &row(
                94,
                &[
                    (0, "8228026758"),
                    (1, "09.12.2022, 15:24:49"),
                    (2, "Feierabendrunde"),
                    (3, "Radfahrt"),
                    (4, "bewölkt, 0°C, Gefühlt -3°C\n---\n "),
                    (5, "3189"),
                    (6, "9,44"),
                    (9, "true"),
                    (11, "Patria"),
                    (12, "activities/8228026758.gpx"),
                    (14, "20.0"),
                    (15, "3189.0"),
                    (16, "2070.0"),
                    (17, "9440,5"),
                    (20, "35,2"),
                ],
            )
            // No SI distance: the display block's km, with a decimal comma.
            + &row(94, &[(0, "8228026759"), (1, "1.1.2023, 08:00"), (3, "Wanderung"), (5, "600"), (6, "2,5")]);

        let table = read(csv.as_bytes()).unwrap();

        assert_eq!(table.layout, Layout::German);
        let ride = table.rows[0].as_ref().unwrap();
        assert_eq!(ride.start, utc(2022, 12, 9, 15, 24, 49));
        assert_eq!(ride.activity_type, "Radfahrt");
        assert_eq!(ride.sport_type, Some("Ride"));
        assert_eq!(ride.elapsed_time, Some(3189));
        assert_eq!(ride.moving_time, Some(2070));
        assert_eq!(ride.distance, Some(9440.5));
        assert_eq!(ride.elevation_gain, Some(35.2));
        assert!(ride.commute);
        let hike = table.rows[1].as_ref().unwrap();
        assert_eq!(hike.start, utc(2023, 1, 1, 8, 0, 0));
        assert_eq!(hike.sport_type, Some("Hike"));
        assert_eq!(hike.elapsed_time, Some(600));
        assert_eq!(hike.distance, Some(2500.0));
        assert_eq!(hike.filename, None);
    }

    #[test]
    fn an_export_before_mid_2019_has_metres_in_its_only_block() {
        let csv = "id,date,name,type,description,elapsed_time,distance,commute,gear,filename\n\
                   1836776031,2018-09-12 15:02:23,Evening Ride,Ride,,783,3681.0,true,Merida,activities/1836776031.gpx\n";

        let table = read(csv.as_bytes()).unwrap();

        assert_eq!(table.layout, Layout::Legacy);
        let ride = only_row(&table);
        assert_eq!(ride.start, utc(2018, 9, 12, 15, 2, 23));
        assert_eq!(ride.elapsed_time, Some(783));
        assert_eq!(ride.distance, Some(3681.0));
        assert_eq!(ride.moving_time, None);
        assert!(ride.commute);
        assert_eq!(ride.gear.as_deref(), Some("Merida"));
    }

    #[test]
    fn a_2019_export_without_the_si_block_has_kilometres() {
        let csv = "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,Distance,Commute,Activity Gear,Filename\n\
                   1836776031,\"Sep 12, 2018, 3:02:23 PM\",Evening Ride,Ride,,783,3.68,true,Merida,activities/1836776031.gpx\n";

        let table = read(csv.as_bytes()).unwrap();

        assert_eq!(table.layout, Layout::English);
        let ride = only_row(&table);
        assert_eq!(ride.start, utc(2018, 9, 12, 15, 2, 23));
        assert_eq!(ride.distance, Some(3680.0));
        assert_eq!(ride.elapsed_time, Some(783));
    }

    #[test]
    fn rows_without_an_si_distance_take_the_unit_the_other_rows_show() {
        let csv = header(&english_94())
            + &row(
                94,
                &[
                    (0, "1"),
                    (1, "Jan 2, 2024, 7:00:00 AM"),
                    (6, "6.21"),
                    (17, "10000.0"),
                ],
            )
            + &row(94, &[(0, "2"), (1, "Jan 3, 2024, 7:00:00 AM"), (6, "2.00")]);

        let table = read(csv.as_bytes()).unwrap();

        assert_eq!(table.rows[0].as_ref().unwrap().distance, Some(10000.0));
        assert_eq!(
            table.rows[1].as_ref().unwrap().distance,
            Some(2.0 * 1609.344)
        );
    }

    #[test]
    fn other_languages_are_read_by_position_in_known_layouts() {
        for columns in [94, 99, 101] {
            let mut names: Vec<String> = [
                "ID de l'activité",
                "Date de l'activité",
                "Nom de l'activité",
                "Type d'activité",
            ]
            .iter()
            .map(|name| name.to_string())
            .collect();
            names.extend((4..columns).map(|index| format!("Colonne {index}")));
            let csv = csv_line(&names)
                + &row(
                    columns,
                    &[
                        (0, "42"),
                        (1, "29/05/2022, 15:53:35"),
                        (2, "Sortie du matin"),
                        (3, "Course à pied"),
                        (5, "1428"),
                        (6, "3,32"),
                        (12, "activities/42.fit.gz"),
                        (15, "1428.0"),
                        (16, "1411.0"),
                        (17, "3322.9"),
                        (30, "170"),
                        (31, "150"),
                    ],
                );

            let table = read(csv.as_bytes()).unwrap();

            assert_eq!(table.layout, Layout::ByPosition { columns });
            let run = only_row(&table);
            assert_eq!(run.start, utc(2022, 5, 29, 15, 53, 35));
            assert_eq!(run.name, "Sortie du matin");
            assert_eq!(run.activity_type, "Course à pied");
            assert_eq!(run.sport_type, None);
            assert_eq!(run.distance, Some(3322.9));
            assert_eq!(run.moving_time, Some(1411));
            assert_eq!(run.max_heartrate, Some(170.0));
            assert_eq!(run.average_heartrate, Some(150.0));
            assert_eq!(run.filename.as_deref(), Some("activities/42.fit.gz"));
        }
    }

    #[test]
    fn an_unknown_layout_is_refused_with_its_column_count_and_first_cell() {
        let csv = "Identifiant,Quand,Quoi\n1,2022-01-01 10:00:00,Course\n";

        let refusal = read(csv.as_bytes()).unwrap_err();

        assert!(refusal.0.contains("3 columns"), "{refusal}");
        assert!(refusal.0.contains("\"Identifiant\""), "{refusal}");
        assert!(refusal.0.contains("87, 92, 94, 99, 101"), "{refusal}");
    }

    #[test]
    fn an_empty_file_is_refused() {
        assert!(read(b"").is_err());
        assert!(read(b"\xEF\xBB\xBF").is_err());
    }

    #[test]
    fn bad_rows_are_refused_and_the_rest_still_reads() {
        let csv = header(&english_94())
            + &english_run()
            + &row(94, &[(1, "May 29, 2022, 3:53:35 PM"), (3, "Run")])
            + &row(94, &[(0, "abc"), (1, "May 29, 2022, 3:53:35 PM")])
            + &row(94, &[(0, "-5"), (1, "May 29, 2022, 3:53:35 PM")])
            + &row(94, &[(0, "7"), (1, "yesterday")])
            + &row(94, &[(0, "8")])
            + "9,\"Jun 1, 2022, 6:00:00 AM\"\n"
            + &english_run();

        let table = read(csv.as_bytes()).unwrap();

        assert_eq!(table.rows.len(), 8);
        assert!(table.rows[0].is_ok());
        let refused = |index: usize| table.rows[index].as_ref().unwrap_err();
        assert_eq!(refused(1).row, 2);
        assert!(
            refused(1).reason.contains("\"Activity ID\" is empty"),
            "{:?}",
            refused(1)
        );
        assert!(
            refused(2).reason.contains("holds \"abc\""),
            "{:?}",
            refused(2)
        );
        assert!(
            refused(3).reason.contains("not a Strava activity id"),
            "{:?}",
            refused(3)
        );
        assert!(
            refused(4)
                .reason
                .contains("\"Activity Date\" holds \"yesterday\""),
            "{:?}",
            refused(4)
        );
        assert!(
            refused(5).reason.contains("\"Activity Date\" is empty"),
            "{:?}",
            refused(5)
        );
        // A short row is an activity with what it has.
        let short = table.rows[6].as_ref().unwrap();
        assert_eq!(
            (short.id, short.distance, short.filename.as_ref()),
            (9, None, None)
        );
        assert_eq!(table.rows[7].as_ref().unwrap().id, 12070555079);
    }

    #[test]
    fn descriptions_with_commas_quotes_and_line_breaks_are_one_row() {
        let description = "Tempo, then \"easy\"\nsecond line\r\nthird, line";
        let csv = header(&english_94())
            + &row(
                94,
                &[
                    (0, "1"),
                    (1, "May 29, 2022, 3:53:35 PM"),
                    (2, "A, \"quoted\" name"),
                    (4, description),
                ],
            )
            + &row(
                94,
                &[(0, "2"), (1, "May 30, 2022, 3:53:35 PM"), (4, description)],
            )
            + &row(
                94,
                &[(0, "x"), (1, "May 31, 2022, 3:53:35 PM"), (4, description)],
            );

        let table = read(csv.as_bytes()).unwrap();

        assert_eq!(table.rows.len(), 3);
        assert_eq!(table.rows[0].as_ref().unwrap().name, "A, \"quoted\" name");
        assert_eq!(table.rows[1].as_ref().unwrap().id, 2);
        assert_eq!(table.rows[2].as_ref().unwrap_err().row, 3);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_header() {
        let csv = [
            b"\xEF\xBB\xBF".as_slice(),
            header(&english_94()).as_bytes(),
            english_run().as_bytes(),
        ]
        .concat();

        let table = read(&csv).unwrap();

        assert_eq!(table.layout, Layout::English);
        assert_eq!(only_row(&table).id, 12070555079);
    }

    #[test]
    fn an_empty_filename_or_an_error_marker_is_no_file() {
        let csv = header(&english_94())
            + &row(94, &[(0, "1"), (1, "May 29, 2022, 3:53:35 PM"), (12, "")])
            + &row(
                94,
                &[(0, "2"), (1, "May 29, 2022, 3:53:35 PM"), (12, "#error#")],
            )
            + &row(
                94,
                &[
                    (0, "3"),
                    (1, "May 29, 2022, 3:53:35 PM"),
                    (12, " activities/3.gpx.gz "),
                ],
            );

        let table = read(csv.as_bytes()).unwrap();

        let files: Vec<Option<&str>> = table
            .rows
            .iter()
            .map(|row| row.as_ref().unwrap().filename.as_deref())
            .collect();
        assert_eq!(files, [None, None, Some("activities/3.gpx.gz")]);
    }

    #[test]
    fn dates_in_every_known_format() {
        for (raw, expected) in [
            ("May 29, 2022, 3:53:35 PM", utc(2022, 5, 29, 15, 53, 35)),
            ("May 29, 2022, 12:05:00 AM", utc(2022, 5, 29, 0, 5, 0)),
            ("Sep 2, 2018, 3:02:23\u{202f}PM", utc(2018, 9, 2, 15, 2, 23)),
            ("Sept 2, 2018, 3:02:23 PM", utc(2018, 9, 2, 15, 2, 23)),
            ("September 2, 2018, 3:02 PM", utc(2018, 9, 2, 15, 2, 0)),
            ("29 May 2022, 15:53:35", utc(2022, 5, 29, 15, 53, 35)),
            ("2018-09-12 15:02:23", utc(2018, 9, 12, 15, 2, 23)),
            ("2018-09-12T15:02:23Z", utc(2018, 9, 12, 15, 2, 23)),
            ("29.05.2022, 15:53:35", utc(2022, 5, 29, 15, 53, 35)),
            ("29.05.2022 15:53", utc(2022, 5, 29, 15, 53, 0)),
            ("9.5.2022, 07:03:01", utc(2022, 5, 9, 7, 3, 1)),
            ("05/06/2022, 15:53:35", utc(2022, 6, 5, 15, 53, 35)),
            ("2022/06/05 15:53:35", utc(2022, 6, 5, 15, 53, 35)),
        ] {
            assert_eq!(parse_start(raw), Some(expected), "{raw}");
        }
        for raw in [
            "",
            "yesterday",
            "29.05.22, 15:53:35",
            "2022-13-01 10:00:00",
            "May 29, 2022",
        ] {
            assert_eq!(parse_start(raw), None, "{raw}");
        }
    }

    #[test]
    fn numbers_in_either_locale() {
        use Decimal::{Either, Point};
        for (raw, decimal, expected) in [
            ("10.5", Point, Some(10.5)),
            ("10.5", Either, Some(10.5)),
            ("10,5", Either, Some(10.5)),
            ("10,5", Point, None),
            ("1,234", Point, Some(1234.0)),
            ("1,234.5", Point, Some(1234.5)),
            ("1.234,5", Either, Some(1234.5)),
            ("1 234,5", Either, Some(1234.5)),
            ("3322.949951171875", Either, Some(3322.949951171875)),
            ("1,2,3", Either, None),
            ("NaN", Either, None),
            ("inf", Point, None),
            ("", Point, None),
        ] {
            assert_eq!(number(raw, decimal), expected, "{raw} {decimal:?}");
        }
    }

    #[test]
    fn by_name_and_by_position_agree_on_a_real_header() {
        let header: Vec<String> = english_94().iter().map(|name| name.to_string()).collect();
        assert_eq!(by_name(&header, ENGLISH), Some(BY_POSITION));
        let header: Vec<String> = german_94().iter().map(|name| name.to_string()).collect();
        assert_eq!(by_name(&header, GERMAN), Some(BY_POSITION));
    }
}
