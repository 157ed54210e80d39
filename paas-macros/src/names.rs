//! Naming helpers: default backend names and "did you mean" suggestions.

/// The `snake_case` form of a `CamelCase` variant name.
///
/// A word starts at an uppercase letter that follows a lowercase letter or a
/// digit, or that ends an acronym: `SP1` -> `sp1`, `NativeCpu` ->
/// `native_cpu`, `Sp1Gpu` -> `sp1_gpu`, `HTTPServer` -> `http_server`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            if let Some(&prev) = i.checked_sub(1).and_then(|p| chars.get(p)) {
                let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
                let boundary = prev.is_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_uppercase() && next_is_lower);
                if boundary {
                    out.push('_');
                }
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The edit distance between two strings (insertions, deletions,
/// substitutions and swaps of neighbours each cost one).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The candidate closest to `given`, if it is close enough to be a typo.
pub(crate) fn did_you_mean<'c>(given: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|&c| (edit_distance(given, c), c))
        .filter(|&(distance, c)| distance <= (c.len() / 3).max(1))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_of_variant_names() {
        for (camel, snake) in [
            ("Native", "native"),
            ("SP1", "sp1"),
            ("Sp1", "sp1"),
            ("NativeCpu", "native_cpu"),
            ("Sp1Gpu", "sp1_gpu"),
            ("HTTPServer", "http_server"),
            ("NativeCPU", "native_cpu"),
            ("Risc0", "risc0"),
            ("GPU2Fast", "gpu2_fast"),
            ("Native_Cpu", "native_cpu"),
            ("A", "a"),
        ] {
            assert_eq!(snake_case(camel), snake, "{camel}");
        }
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("workers", "workers"), 0);
        assert_eq!(edit_distance("wokers", "workers"), 1);
        assert_eq!(edit_distance("weigth", "weight"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        let keys = ["name", "workers", "weight", "budget"];
        assert_eq!(did_you_mean("worker", &keys), Some("workers"));
        assert_eq!(did_you_mean("weigth", &keys), Some("weight"));
        assert_eq!(did_you_mean("budgett", &keys), Some("budget"));
        assert_eq!(did_you_mean("nmae", &keys), Some("name"));
        assert_eq!(did_you_mean("threads", &keys), None);
        assert_eq!(did_you_mean("x", &keys), None);
    }
}
