//! Times in responses, written as chrono writes them (RFC 3339, `Z`, as many fractional digits
//! as the value needs: none, 3, 6 or 9) without going through `fmt`: chrono's serializer
//! formats a time character by character through `Display`, and a listing of 20 changelogs
//! holds 40 times, which took more of a listing's CPU than its query's JSON.

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};
use serde::Serializer;

/// Serializes `time` as its RFC 3339 text, exactly as chrono's `Serialize` would.
pub(crate) fn serialize<S: Serializer>(
    time: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; 30];
    match write(time, &mut buffer) {
        Some(text) => serializer.serialize_str(text),
        // Years outside 0 to 9999 (written with a sign) are chrono's to write.
        None => serde::Serialize::serialize(time, serializer),
    }
}

/// Writes `time` into `buffer` and returns the text; `None` for a year outside 0 to 9999.
fn write<'b>(time: &DateTime<Utc>, buffer: &'b mut [u8; 30]) -> Option<&'b str> {
    let year = u32::try_from(time.year()).ok().filter(|y| *y <= 9999)?;
    let mut nano = time.nanosecond();
    let mut second = time.second();
    // A leap second is the 60th second (chrono keeps it as 1e9 nanoseconds and more).
    if nano >= 1_000_000_000 {
        second += 1;
        nano -= 1_000_000_000;
    }
    let mut at = 0;
    let mut put = |digits: u32, value: u32, end: u8, buffer: &mut [u8; 30]| {
        let mut rest = value;
        for i in (0..digits as usize).rev() {
            buffer[at + i] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        at += digits as usize;
        buffer[at] = end;
        at += 1;
    };
    put(4, year, b'-', buffer);
    put(2, time.month(), b'-', buffer);
    put(2, time.day(), b'T', buffer);
    put(2, time.hour(), b':', buffer);
    put(2, time.minute(), b':', buffer);
    let (digits, fraction) = if nano == 0 {
        (0, 0)
    } else if nano.is_multiple_of(1_000_000) {
        (3, nano / 1_000_000)
    } else if nano.is_multiple_of(1_000) {
        (6, nano / 1_000)
    } else {
        (9, nano)
    };
    if digits == 0 {
        put(2, second, b'Z', buffer);
    } else {
        put(2, second, b'.', buffer);
        put(digits, fraction, b'Z', buffer);
    }
    std::str::from_utf8(&buffer[..at]).ok()
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone as _};

    use super::*;

    fn ours(time: &DateTime<Utc>) -> String {
        let mut out = Vec::new();
        serialize(time, &mut serde_json::Serializer::new(&mut out)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_what_chrono_writes() {
        let mut times = vec![
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.timestamp_opt(1_764_550_709, 865_578_000).unwrap(),
            Utc.timestamp_opt(1_764_550_709, 865_000_000).unwrap(),
            Utc.timestamp_opt(1_764_550_709, 865_578_123).unwrap(),
            Utc.timestamp_opt(1_764_550_709, 1_000).unwrap(),
            Utc.timestamp_opt(1_764_550_709, 1).unwrap(),
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            NaiveDate::from_ymd_opt(0, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc(),
            NaiveDate::from_ymd_opt(9999, 12, 31)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 999_999_999)
                .unwrap()
                .and_utc(),
            NaiveDate::from_ymd_opt(10_000, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc(),
            NaiveDate::from_ymd_opt(-1, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc(),
            // Leap seconds, with and without a fraction.
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 1_000_000_000)
                .unwrap()
                .and_utc(),
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 1_250_000_000)
                .unwrap()
                .and_utc(),
        ];
        // A spread of ordinary times, each fraction length among them.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let seconds = (seed % 400_000_000_000) as i64 - 62_000_000_000;
            let nanos = match seed % 4 {
                0 => 0,
                1 => (seed >> 8) as u32 % 1_000 * 1_000_000,
                2 => (seed >> 8) as u32 % 1_000_000 * 1_000,
                _ => (seed >> 8) as u32 % 1_000_000_000,
            };
            times.push(Utc.timestamp_opt(seconds, nanos).unwrap());
        }
        for time in &times {
            assert_eq!(ours(time), serde_json::to_string(time).unwrap(), "{time:?}");
        }
    }
}
