//! `pow` and `log` for the bundled SQLite, from the Rust project's `libm` crate (musl's
//! implementations, ported).
//!
//! They are the only two symbols berth takes from the C math library. Defined here, they let the
//! linker drop `libm.so` (Rust links with `--as-needed`), and with it ~0.5 MiB of resident memory
//! per process: the dynamic loader runs libm's IFUNC resolvers at every start, which pages in
//! much of the library for two functions.

/// `double pow(double, double)`.
#[allow(unsafe_code)] // `no_mangle` exports a C symbol, here with pow's own C signature.
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// `double log(double)`.
#[allow(unsafe_code)] // `no_mangle` exports a C symbol, here with log's own C signature.
#[no_mangle]
pub extern "C" fn log(x: f64) -> f64 {
    libm::log(x)
}

#[cfg(test)]
mod tests {
    // Known values, not `f64::powf` and `ln`: in this binary those call the functions above.
    #[test]
    fn known_values() {
        assert_eq!(super::pow(2.0, 10.0), 1024.0);
        assert_eq!(super::pow(2.0, -2.0), 0.25);
        assert_eq!(super::pow(9.0, 0.5), 3.0);
        assert_eq!(super::pow(0.0, 0.0), 1.0);
        assert_eq!(super::log(1.0), 0.0);
        assert!((super::log(std::f64::consts::E) - 1.0).abs() <= f64::EPSILON);
        assert!((super::log(1e-300) + 690.775_527_898_213_7).abs() < 1e-9);
        assert!(super::log(-1.0).is_nan());
        assert_eq!(super::log(0.0), f64::NEG_INFINITY);
    }
}
