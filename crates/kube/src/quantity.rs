//! Kubernetes resource quantities (`apimachinery` `resource.Quantity`: `128Mi`, `1G`,
//! `500m`, `0.5`, `1e3`) to and from peapod's numbers.

/// The value of a quantity in base units (bytes, CPUs); `None` if it is not one.
pub(crate) fn parse(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    if number.is_empty() || number.matches('.').count() > 1 || number[1..].contains('+') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        "Pi" => 1024.0f64.powi(5),
        "Ei" => 1024.0f64.powi(6),
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse().ok()?),
        _ => return None,
    };
    let v = value * factor;
    v.is_finite().then_some(v)
}

/// Bytes (`limits.memory`), at least 1.
pub(crate) fn bytes(text: &str) -> Option<i64> {
    let v = parse(text)?.ceil();
    // The cast saturates; the bound keeps it exact.
    (1.0..9.0e18).contains(&v).then_some(v as i64)
}

/// Billionths of a CPU (`limits.cpu`), at least 1.
pub(crate) fn nano_cpus(text: &str) -> Option<i64> {
    let v = (parse(text)? * 1e9).round();
    (1.0..9.0e18).contains(&v).then_some(v as i64)
}

/// Thousandths of a CPU (`requests.cpu`), rounded up as Kubernetes' `MilliValue`.
pub(crate) fn milli_cpus(text: &str) -> Option<i64> {
    let v = (parse(text)? * 1e3 - 1e-6).ceil();
    (1.0..9.0e18).contains(&v).then_some(v as i64)
}

/// CPU shares for a request of `milli` CPUs, as the kubelet (and podman's `kube play`)
/// compute them: `milli × 1024 / 1000`, at least 2.
pub(crate) fn shares(milli: u64) -> u64 {
    (milli.saturating_mul(1024) / 1000).clamp(2, 262_144)
}

/// The request (milli CPUs) that gives `shares` back through [`shares`].
pub(crate) fn milli_for_shares(shares: u64) -> u64 {
    shares.saturating_mul(1000).div_ceil(1024)
}

/// Bytes as a quantity (`128Mi` when it divides).
pub(crate) fn format_bytes(bytes: i64) -> String {
    for (suffix, unit) in [("Gi", 1i64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// Billionths of a CPU as a quantity (`1`, `500m`, `1500001n`).
pub(crate) fn format_nano_cpus(nano: i64) -> String {
    if nano % 1_000_000_000 == 0 {
        (nano / 1_000_000_000).to_string()
    } else if nano % 1_000_000 == 0 {
        format!("{}m", nano / 1_000_000)
    } else {
        format!("{nano}n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(bytes("128Mi"), Some(128 << 20));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("0.5Gi"), Some(512 << 20));
        assert_eq!(bytes("1e3"), Some(1000));
        assert_eq!(bytes("129e6"), Some(129_000_000));
        assert_eq!(bytes("0"), None);
        assert_eq!(bytes("lots"), None);
        assert_eq!(bytes("12Xi"), None);
        assert_eq!(bytes("-1"), None);
        assert_eq!(nano_cpus("500m"), Some(500_000_000));
        assert_eq!(nano_cpus("1.5"), Some(1_500_000_000));
        assert_eq!(nano_cpus("0.1"), Some(100_000_000));
        assert_eq!(milli_cpus("250m"), Some(250));
        assert_eq!(milli_cpus("0.1"), Some(100));
        assert_eq!(shares(250), 256);
        assert_eq!(shares(1), 2);
        for milli in [2, 97, 100, 250, 333, 1000, 4000] {
            assert_eq!(milli_for_shares(shares(milli)), milli, "{milli}");
        }
        assert_eq!(format_bytes(128 << 20), "128Mi");
        assert_eq!(format_bytes(1000), "1000");
        assert_eq!(format_nano_cpus(1_500_000_000), "1500m");
        assert_eq!(format_nano_cpus(2_000_000_000), "2");
        assert_eq!(format_nano_cpus(7), "7n");
        for q in ["128Mi", "1000", "1500m", "2", "7n"] {
            let back = if q.ends_with('i') || q == "1000" {
                format_bytes(bytes(q).unwrap())
            } else {
                format_nano_cpus(nano_cpus(q).unwrap())
            };
            assert_eq!(back, q);
        }
    }
}
