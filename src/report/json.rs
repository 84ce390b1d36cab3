//! The report as JSON, for scripts: the [`Report`] struct, with every float rounded to
//! [`DECIMALS`] places (more digits than any measurement here is worth, and a stable text for
//! diffs and snapshots) and non-finite values (silence) as `null`. No timestamps or paths: the
//! same render gives the same JSON.

use serde_json::Value;

use super::Report;
use crate::error::{Error, Result};

/// Decimal places kept for floats.
pub const DECIMALS: i32 = 3;

/// Pretty-printed JSON of `report`, ending with a newline.
pub fn to_json(report: &Report) -> Result<String> {
    let mut value = serde_json::to_value(report).map_err(|e| Error::Report {
        what: "JSON",
        reason: e.to_string(),
    })?;
    round_floats(&mut value, DECIMALS);
    let mut text = serde_json::to_string_pretty(&value).map_err(|e| Error::Report {
        what: "JSON",
        reason: e.to_string(),
    })?;
    text.push('\n');
    Ok(text)
}

/// Rounds every float in `value` to `decimals` places (integers stay as they are).
pub fn round_floats(value: &mut Value, decimals: i32) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(x) = n.as_f64() {
                let scale = 10f64.powi(decimals);
                let r = (x * scale).round() / scale;
                // -0.0 prints as "-0.0": normalise so equal values print equally.
                let r = if r == 0.0 { 0.0 } else { r };
                *value = serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| round_floats(v, decimals)),
        Value::Object(map) => map.values_mut().for_each(|v| round_floats(v, decimals)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_floats_and_keeps_integers() {
        let mut v = serde_json::json!({"a": 1.23456, "b": [2, -0.0001, 1e300], "c": 7});
        round_floats(&mut v, 3);
        assert_eq!(
            v,
            serde_json::json!({"a": 1.235, "b": [2, 0.0, 1e300], "c": 7})
        );
    }
}
