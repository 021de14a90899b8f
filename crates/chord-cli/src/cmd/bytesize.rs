//! Byte counts on the command line: `4096`, `256K`, `256M`, `1.5G` (also `MB`, `MiB`; K, M and G
//! are powers of 1024, as memory sizes usually are).

pub fn parse(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return Err(format!("'{s}': expected bytes like 4096, 256M or 1.5G")),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}': expected a number of bytes like 256M"))?;
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("'{s}': out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn sizes() {
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse("256M"), Ok(256 << 20));
        assert_eq!(parse("256MiB"), Ok(256 << 20));
        assert_eq!(parse("1.5g"), Ok(3 << 29));
        assert_eq!(parse("64k"), Ok(64 << 10));
        assert!(parse("").is_err());
        assert!(parse("0").is_err());
        assert!(parse("12X").is_err());
        assert!(parse("M").is_err());
        assert!(parse("1.2.3M").is_err());
    }
}
