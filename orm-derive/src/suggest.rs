//! "Did you mean ...?" suggestions for misspelled keywords.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let normalized = normalize(word);
    candidates
        .iter()
        .map(|c| (edit_distance(&normalized, &normalize(c)), *c))
        .filter(|(distance, c)| *distance <= threshold(c))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// " (did you mean `x`?)" or nothing, to append to a message.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates) {
        Some(candidate) => format!("; did you mean `{candidate}`?"),
        None => String::new(),
    }
}

// `delete_orphan` and `Delete-Orphan` are the same typo as far as a suggestion goes.
fn normalize(word: &str) -> String {
    word.trim().to_ascii_lowercase().replace(['_', ' '], "-")
}

fn threshold(candidate: &str) -> usize {
    (candidate.len() / 3).max(1)
}

/// Edit distance over chars where swapping two neighbours counts as one edit (optimal string
/// alignment), so `tabel` is one typo away from `table`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::symbol::CASCADE_TOKENS as CASCADES;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("tabel", "table"), 1);
    }

    #[test]
    fn suggests_close_keywords() {
        assert_eq!(closest("delete_orphan", CASCADES), Some("delete-orphan"));
        assert_eq!(closest("delete-orhpan", CASCADES), Some("delete-orphan"));
        assert_eq!(closest("save_update", CASCADES), Some("save-update"));
        assert_eq!(closest("primary", &["primary_key", "unique"]), None);
        assert_eq!(
            closest("primarykey", &["primary_key", "unique"]),
            Some("primary_key")
        );
    }

    #[test]
    fn no_suggestion_for_unrelated_words() {
        assert_eq!(closest("banana", CASCADES), None);
        assert_eq!(did_you_mean("banana", CASCADES), "");
        assert_eq!(did_you_mean("merg", CASCADES), "; did you mean `merge`?");
    }
}
