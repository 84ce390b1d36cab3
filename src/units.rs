//! Named unit conversions. Every float in lathe's public API says its unit in its name.

/// Decibels to linear amplitude gain: `10^(db/20)`.
#[inline]
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Linear amplitude gain to decibels: `20 log10(gain)`; `-inf` for 0.
#[inline]
pub fn gain_to_db(gain: f64) -> f64 {
    20.0 * gain.log10()
}

/// Power ratio to decibels: `10 log10(power)`; `-inf` for 0.
#[inline]
pub fn power_to_db(power: f64) -> f64 {
    10.0 * power.log10()
}

/// Decibels to a power ratio: `10^(db/10)`.
#[inline]
pub fn db_to_power(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!((db_to_gain(-6.0206) - 0.5).abs() < 1e-4);
        assert!((gain_to_db(2.0) - 6.0206).abs() < 1e-4);
        assert!((power_to_db(100.0) - 20.0).abs() < 1e-12);
        assert!((db_to_power(-30.0) - 1e-3).abs() < 1e-15);
        assert_eq!(gain_to_db(0.0), f64::NEG_INFINITY);
    }
}
